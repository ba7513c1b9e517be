namespace IlgpuDiffusion.Serving;

/// <summary>How a <see cref="TextGenerationEngine"/> queues and batches requests.</summary>
public sealed record TextEngineOptions
{
    /// <summary>Most sequences (samples of all requests together) run in one batch.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Most requests waiting for their batch; one more is refused with <see cref="EngineBusyException"/>.</summary>
    public int MaxQueue { get; init; } = 64;

    /// <summary>The name the engine reports for its model; null: <c>"diffusion"</c> or <c>"gpt"</c>.</summary>
    public string? ModelName { get; init; }
}
