namespace IlgpuDiffusion;

/// <summary>
/// The texts of a running generation, as the streaming APIs yield them: after each denoising step of a diffusion model
/// (masked positions shown as <c>[MASK]</c>), or after each token of an autoregressive one.
/// </summary>
/// <param name="Step">Steps done: denoising steps, or tokens generated.</param>
/// <param name="IsFinal">Whether this is the finished result.</param>
/// <param name="Texts">One text per sample, the prompt included.</param>
public sealed record GenerationSnapshot(int Step, bool IsFinal, IReadOnlyList<string> Texts);
