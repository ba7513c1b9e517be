using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Training;

/// <summary>
/// A batch whose sequences × tokens exceed what kernels index (e.g. a batch size of 2^31 − 1) is refused by every sampler,
/// trainer and scorer with a message naming the batch size, not with an arithmetic overflow.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class BatchSizeLimitTests
{
    private static void AssertRefusesTheBatch(Action build)
    {
        string message = Assert.Throws<ArgumentOutOfRangeException>(build).Message;
        Assert.Contains("A batch of 2147483647 sequences", message);
        Assert.Contains("use a smaller batch size", message);
    }

    [Fact]
    public void Samplers_trainers_and_scorers_refuse_a_batch_whose_tokens_overflow_naming_its_size()
    {
        using var data = new TinyTraining();
        using var dit = TinyTraining.NewModel();
        AssertRefusesTheBatch(() => new MdlmTrainer(dit, data.Train, TinyTraining.Config with { BatchSize = int.MaxValue }).Dispose());
        AssertRefusesTheBatch(() => new DiffusionSampler(dit, new SamplerOptions { BatchSize = int.MaxValue, Steps = 2 }).Dispose());
        AssertRefusesTheBatch(() => dit.CreateActivations(int.MaxValue, TinyModels.Length, training: false).Dispose());

        using var gpt = new Gpt(TinyModels.LearningGpt(TinyModels.Vocab, TinyModels.Length), TinyModels.Cpu);
        AssertRefusesTheBatch(() => new ArTrainer(gpt, data.Train, TinyTraining.Config with { BatchSize = int.MaxValue }).Dispose());
        AssertRefusesTheBatch(() => new GptScorer(gpt, int.MaxValue, TinyModels.Length).Dispose());
        AssertRefusesTheBatch(() => gpt.CreateActivations(int.MaxValue, TinyModels.Length, training: false).Dispose());
    }

    [Fact]
    public void A_training_config_whose_sequences_per_step_overflow_is_refused_naming_the_settings()
    {
        var config = TrainingConfig.Mdlm with { BatchSize = 1 << 30, GradientAccumulationSteps = 4 };
        string message = Assert.Throws<ArgumentOutOfRangeException>(config.Validate).Message;
        Assert.Contains("GradientAccumulationSteps must be at most 1 with BatchSize 1073741824", message);
    }
}
