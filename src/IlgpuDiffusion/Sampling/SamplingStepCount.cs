namespace IlgpuDiffusion.Sampling;

/// <summary>How far a sampling run that spans several windows has come: denoising steps done out of all of its steps.</summary>
/// <param name="Done">Steps finished so far, over every window.</param>
/// <param name="Total">Steps of the whole run: windows × steps per window.</param>
public readonly record struct SamplingStepCount(int Done, int Total);
