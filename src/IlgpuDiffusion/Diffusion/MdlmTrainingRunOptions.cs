using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Diffusion;

/// <summary>What <see cref="MdlmTrainer.Run"/> does around the optimizer steps.</summary>
public sealed record MdlmTrainingRunOptions : RunOptions
{
    /// <summary>Validation run every <see cref="TrainingConfig.ValidationInterval"/> steps and at the end (none when null).</summary>
    public ValidationPerplexity? Validation { get; init; }
}
