using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Autoregressive;

/// <summary>Next-token training on a tiny corpus: learning, exact resume, validation, no allocation per step.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class ArTrainerTests : IDisposable
{
    private const int Length = 12, Vocab = 16;

    private static readonly GptConfig Model = TinyModels.LearningGpt(Vocab, Length);

    private static readonly TrainingConfig Training = TrainingConfig.Mdlm with
    {
        LearningRate = 3e-3,
        WarmupSteps = 2,
        BatchSize = 4,
        LogInterval = 5,
        ValidationInterval = 0,
        Seed = 7,
        EmaDecay = 0.9,
    };

    private readonly TempDirectory _temp = new();
    private readonly TokenShardSet _train, _validation;

    public ArTrainerTests()
    {
        _train = Corpus("train.tokens", 32, seed: 1);
        _validation = Corpus("validation.tokens", 6, seed: 2);
    }

    [Fact]
    public void The_model_learns_a_counting_corpus_and_its_ema_validates_better()
    {
        using var model = NewModel();
        using var trainer = new ArTrainer(model, _train, Training);
        using var validation = new ArValidation(Model, model.Device, _validation, batchSize: 4);
        double before = validation.Evaluate(trainer.Ema.Weights, 0).Perplexity;
        var log = new StringWriter();
        using (var metrics = new MetricsLog(log, null))
            trainer.Run(100, new ArTrainingRunOptions { Log = metrics, Validation = validation });
        // x_{t+1} = x_t + 1 (mod V): every prediction but the ambiguous first is learnable.
        Assert.InRange(before, 0.5 * Vocab, 2.0 * Vocab);
        Assert.NotNull(trainer.LastValidation);
        Assert.True(trainer.LastValidation!.Perplexity < 2.0,
            $"validation perplexity {before:F2} → {trainer.LastValidation.Perplexity:F2}");
        Assert.Equal(6 * (Length - 1), trainer.LastValidation.Tokens);
        Assert.Contains("step 100", log.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A two-micro-batch step on an ILGPU device waits for it once, to read its losses and gradient norm together (as
    /// the MDLM trainer's).
    /// </summary>
    [Fact]
    public void A_training_step_on_an_ilgpu_device_waits_for_it_once()
    {
        var device = TestBackends.Get("ilgpu-cpu");
        using var model = new Gpt(Model, device);
        model.Initialize(3);
        using var trainer = new ArTrainer(model, _train, Training with { GradientAccumulationSteps = 2 });
        trainer.TrainStep();
        long before = device.HostWaits;
        trainer.TrainStep();
        Assert.Equal(1, device.HostWaits - before);
    }

    [Fact]
    public void Resuming_from_a_checkpoint_continues_bit_for_bit()
    {
        string path = _temp.File("run.ckpt");
        using var first = NewModel();
        using var original = new ArTrainer(first, _train, Training with { GradientAccumulationSteps = 2 });
        for (int i = 0; i < 3; i++) original.TrainStep();
        original.SaveCheckpoint(path);
        var expected = Enumerable.Range(0, 3).Select(_ => original.TrainStep()).ToArray();

        using var second = NewModel(seed: 99);
        using var resumed = new ArTrainer(second, _train, Training with { GradientAccumulationSteps = 2 });
        Assert.Equal(3, resumed.LoadCheckpoint(path).Step);
        var actual = Enumerable.Range(0, 3).Select(_ => resumed.TrainStep()).ToArray();
        Assert.Equal(expected, actual);
        Assert.Equal(first.Parameters.All.ToArray(), second.Parameters.All.ToArray());
        Assert.Equal(original.Ema.Weights.ToArray(), resumed.Ema.Weights.ToArray());
        Assert.Equal(original.State, resumed.State);

        using var ema = GptCheckpoint.LoadModel(path, first.Device);
        Assert.Equal(Model, ema.Config);
        using var other = new ArTrainer(NewModel(), _train, Training with { Seed = 8 });
        Assert.Contains("Seed", Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(path)).Message);
        other.Model.Dispose();
    }

    [Fact]
    public void A_diverged_run_writes_no_checkpoint()
    {
        using var model = NewModel();
        using var trainer = new ArTrainer(model, _train, Training with { LearningRate = 1e38, WarmupSteps = 0 });
        using var temp = new Data.TempDirectory();
        trainer.TrainStep();
        var error = Assert.Throws<InvalidOperationException>(() => trainer.SaveCheckpoint(temp.File("gpt.safetensors")));
        Assert.Contains("not finite", error.Message);
        Assert.Empty(temp.AllFiles());
    }

    [Fact]
    public void A_training_step_allocates_nothing_after_warm_up()
    {
        using var model = NewModel();
        using var trainer = new ArTrainer(model, _train, Training with { GradientAccumulationSteps = 2 });
        SteadyStateAllocation.AssertNone(() => trainer.TrainStep());
    }

    public void Dispose()
    {
        _train.Dispose();
        _validation.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public void The_heads_padding_rows_stay_zero_through_training()
    {
        Assert.Equal(64, Model.PaddedVocab);
        Assert.Equal(50304, new GptConfig().PaddedVocab);
        using var model = NewModel();
        using var trainer = new ArTrainer(model, _train, Training);
        for (int i = 0; i < 3; i++) trainer.TrainStep();
        var head = model.Parameters.PaddedHeadWeight.ToArray(); // [PaddedVocab, D], wte's rows first (tied)
        Assert.Contains(head[..(Vocab * Model.Hidden)], v => v != 0f);
        Assert.All(head[(Vocab * Model.Hidden)..], v => Assert.Equal(0f, v));
    }

    private static Gpt NewModel(ulong seed = 3)
    {
        var model = new Gpt(Model, TinyModels.Cpu);
        model.Initialize(seed);
        return model;
    }

    /// <summary>Counting sequences: a random start, then +1 mod V.</summary>
    private TokenShardSet Corpus(string name, int sequences, int seed)
    {
        var random = new Random(seed);
        string path = _temp.File(name);
        using (var writer = new TokenShardWriter(path, Length, Vocab))
        {
            var sequence = new int[Length];
            for (int s = 0; s < sequences; s++)
            {
                int start = random.Next(Vocab);
                for (int t = 0; t < Length; t++) sequence[t] = (start + t) % Vocab;
                writer.Write(sequence);
            }
            writer.Commit();
        }
        return TokenShardSet.Open([path], Length, Vocab);
    }
}
