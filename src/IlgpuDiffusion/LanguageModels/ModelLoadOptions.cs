namespace IlgpuDiffusion;

/// <summary>How <see cref="DiffusionLanguageModel.Load"/> and <see cref="GptLanguageModel.Load"/> find and read a model.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>A training checkpoint's moving-average (EMA) weights rather than its raw weights; a model folder has one set.</summary>
    public bool UseEma { get; init; } = true;

    /// <summary>The Hugging Face cache root searched for repository ids; null: <see cref="HuggingFaceCache.DefaultRoot"/>.</summary>
    public string? HubCache { get; init; }
}
