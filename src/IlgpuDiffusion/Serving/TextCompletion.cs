namespace IlgpuDiffusion.Serving;

/// <summary>The finished completions of one <see cref="TextRequest"/>.</summary>
/// <param name="Texts">One generated text per sample, without the prompt and the suffix.</param>
/// <param name="PromptTokens">Tokens of the prompt and suffix (BOS/EOS framing included), counted once.</param>
/// <param name="CompletionTokens">Generated tokens, summed over the samples.</param>
/// <param name="FinishReason">
/// <c>"stop"</c> when every sample ended with its end-of-text token, else <c>"length"</c> (a diffusion model always fills
/// its window).
/// </param>
public sealed record TextCompletion(IReadOnlyList<string> Texts, int PromptTokens, int CompletionTokens, string FinishReason)
{
    /// <summary>
    /// Per sample (OpenAI's per-choice <c>finish_reason</c>): <c>"stop"</c> when it ended with its end-of-text token, else
    /// <c>"length"</c>; empty when a completion was built without them.
    /// </summary>
    public IReadOnlyList<string> FinishReasons { get; init; } = [];
}
