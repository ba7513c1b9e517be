using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Serving;

/// <summary>Requests that may share one batch: the same window, steps, temperature, top-p and GPT prompt length.</summary>
/// <param name="Window">Tokens per sequence, prompt and suffix included.</param>
/// <param name="Steps">Denoising steps (0 for GPT).</param>
/// <param name="Temperature">The draws' temperature.</param>
/// <param name="TopP">The draws' nucleus mass.</param>
/// <param name="PromptLength">GPT prompt tokens (its decoder needs equal lengths); 0 for diffusion.</param>
internal readonly record struct BatchKey(int Window, int Steps, float Temperature, float TopP, int PromptLength);

/// <summary>A validated, tokenized <see cref="TextRequest"/>.</summary>
internal sealed class PreparedRequest
{
    /// <summary>The request as given.</summary>
    public required TextRequest Request { get; init; }

    /// <summary>What it must share with the requests of its batch.</summary>
    public required BatchKey Key { get; init; }

    /// <summary>Fixed tokens before the generated ones (BOS and prompt).</summary>
    public required int PrefixTokens { get; init; }

    /// <summary>Fixed tokens after the generated ones (suffix and EOS).</summary>
    public required int SuffixTokens { get; init; }

    /// <summary>A diffusion request's fixed tokens, as the language model's own <c>Generate</c> builds them.</summary>
    public SamplingPrompt? DiffusionPrompt { get; init; }

    /// <summary>A GPT request's prompt ids (BOS first).</summary>
    public int[] GptPrompt { get; init; } = [];

    /// <summary>Sequences it takes in a batch.</summary>
    public int Samples => Request.Samples;

    /// <summary>A request with a seed runs in a batch of its own, so that its texts are the seed's.</summary>
    public bool RunsAlone => Request.Seed is not null;

    /// <summary>Generated positions per sequence.</summary>
    public int CompletionPositions => Key.Window - PrefixTokens - SuffixTokens;
}
