namespace IlgpuDiffusion.Cli.Serving;

/// <summary>The request fields both completion routes share.</summary>
internal abstract class SamplingBody
{
    /// <summary>The model asked for: the served name, or absent.</summary>
    public string? Model { get; init; }

    /// <summary>Tokens to generate.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Logits are divided by it before each draw; 0 is greedy.</summary>
    public double? Temperature { get; init; }

    /// <summary>Nucleus mass in (0, 1].</summary>
    public double? TopP { get; init; }

    /// <summary>The seed of every random choice.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Completions generated together.</summary>
    public int? N { get; init; }

    /// <summary>Whether the answer comes as server-sent events.</summary>
    public bool Stream { get; init; }

    /// <summary>Stream settings: <c>include_usage</c> adds a last chunk with the token counts and no choices.</summary>
    public StreamOptionsBody? StreamOptions { get; init; }

    /// <summary>Denoising steps of a diffusion model.</summary>
    public int? Steps { get; init; }
}

/// <summary>OpenAI's <c>stream_options</c>.</summary>
internal sealed class StreamOptionsBody
{
    /// <summary>Whether a last chunk carries the token counts.</summary>
    public bool IncludeUsage { get; init; }
}
