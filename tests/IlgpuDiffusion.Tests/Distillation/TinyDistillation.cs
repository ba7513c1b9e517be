using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Training;

namespace IlgpuDiffusion.Tests.Distillation;

/// <summary>
/// Distillation of <see cref="TinyModels.TrainingDit"/> on <see cref="TinyTraining"/>'s corpus: a teacher trained for
/// 40 MDLM steps (so that its predictions depend on context; a fresh model outputs uniform rows), and settings of
/// N₀ = 16 sampling steps down to a minimum of 4 (two rounds, Δ = 1/16 then 1/8) of 3 steps each.
/// </summary>
internal static class TinyDistillation
{
    private static readonly Lazy<float[]> TeacherWeights = new(() =>
    {
        using var data = new TinyTraining();
        using var model = TinyTraining.NewModel();
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config);
        for (int i = 0; i < 40; i++) trainer.TrainStep();
        return model.Parameters.All.ToArray();
    });

    public static DistillationConfig Config { get; } = new()
    {
        Training = TinyTraining.Config,
        InitialSamplingSteps = 16,
        MinSamplingSteps = 4,
        StepsPerRound = 3,
    };

    /// <summary>A model (no gradients) holding the trained teacher weights, on <paramref name="device"/> (default the CPU).</summary>
    public static Dit Teacher(Device? device = null)
    {
        var model = new Dit(TinyModels.TrainingDit, device ?? TinyModels.Cpu, withGradients: false);
        model.Parameters.All.CopyFrom(TeacherWeights.Value);
        return model;
    }

    /// <summary>A distiller of the trained teacher under <paramref name="config"/> (default <see cref="Config"/>).</summary>
    public static SdttDistiller Distiller(TinyTraining data, DistillationConfig? config = null)
    {
        using var teacher = Teacher();
        return new SdttDistiller(teacher, data.Train, config ?? Config);
    }
}
