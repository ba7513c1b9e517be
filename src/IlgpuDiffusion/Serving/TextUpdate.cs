namespace IlgpuDiffusion.Serving;

/// <summary>
/// The state of a streamed request: after each denoising step of a diffusion model (still masked positions shown as
/// <c>[MASK]</c>) or after each token of an autoregressive one, then the finished texts.
/// </summary>
/// <param name="Step">Steps done: denoising steps, or tokens generated.</param>
/// <param name="TotalSteps">Steps of the whole run: denoising steps, or the most tokens the window leaves.</param>
/// <param name="Texts">One generated text per sample so far, without the prompt and the suffix.</param>
/// <param name="Final">Whether this is the finished result (the last update).</param>
public sealed record TextUpdate(int Step, int TotalSteps, IReadOnlyList<string> Texts, bool Final)
{
    /// <summary>The finished completions (token counts and finish reason) on the final update; null before.</summary>
    public TextCompletion? Completion { get; init; }
}
