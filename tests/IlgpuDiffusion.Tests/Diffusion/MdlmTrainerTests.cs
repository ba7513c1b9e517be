using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Training;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Diffusion;

[Collection(ConformanceCollection.Name)]
public sealed class MdlmTrainerTests
{
    [Fact]
    public void A_tiny_model_lowers_its_loss_on_a_tiny_corpus()
    {
        using var data = new TinyTraining();
        using var model = TinyTraining.NewModel();
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config);
        var losses = Enumerable.Range(0, 80).Select(_ => trainer.TrainStep().Loss).ToArray();
        // A fresh model outputs logits ≡ 0: every masked token costs ln(31) nats, and E[(1/t)·(1−ε)t] ≈ 1.
        Assert.InRange(losses[0], 0.5 * Math.Log(31), 1.5 * Math.Log(31));
        double early = losses.Take(10).Average(), late = losses.TakeLast(10).Average();
        Assert.True(late < 0.5 * early, $"loss fell from {early:F3} (first 10 steps) to only {late:F3} (last 10)");
        Assert.Equal(80, trainer.Step);
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.Fast), MemberType = typeof(TestBackends))]
    public void A_diverged_run_writes_no_checkpoint_and_keeps_the_last_good_one(string backend)
    {
        using var data = new TinyTraining();
        using var model = new Dit(TinyModels.TrainingDit, TestBackends.Get(backend));
        model.Initialize(3);
        // lr 1e38 is finite, and so is the first gradient norm; the first update sends the weights to about ±1e38.
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config with { LearningRate = 1e38, WarmupSteps = 0 });
        using var temp = new Data.TempDirectory();
        string path = temp.File("run.safetensors");
        trainer.SaveCheckpoint(path);
        byte[] good = File.ReadAllBytes(path);
        trainer.TrainStep();

        var error = Assert.Throws<InvalidOperationException>(() => trainer.SaveCheckpoint(path));

        Assert.Contains("not finite after optimizer step 1", error.Message);
        Assert.Contains("the last one written is intact", error.Message);
        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Equal(0, MdlmCheckpoint.ReadHeader(path).State.Step);
        Assert.Single(temp.AllFiles());
    }

    [Fact]
    public void A_training_step_allocates_nothing_after_warm_up()
    {
        using var data = new TinyTraining();
        using var model = TinyTraining.NewModel();
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config with { GradientAccumulationSteps = 2 });
        SteadyStateAllocation.AssertNone(() => trainer.TrainStep());
    }

    /// <summary>
    /// Padding the head's rows (<see cref="CorruptedBatch.PadHeadRows"/>) adds rows of weight 0, whose loss and gradients
    /// are exactly zero, at positions the masked rows do not take: the losses and the weights after each step are those of
    /// the unpadded run, bit for bit (B·L is 64, so a multiple of 16 pads most draws and 128 takes every position). Two
    /// steps: the second runs on the weights the first updated. ILGPU's CPU emulator, whose steps take seconds, runs the
    /// multiple of 128 only: which positions pad the rows is the trainer's choice, the same on every backend.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Padded_head_rows_change_neither_the_losses_nor_the_weights(string backend)
    {
        using var data = new TinyTraining();
        int[] multiples = backend == "ilgpu-cpu" ? [1, 128] : [1, 16, 128];
        float[][] weights = new float[multiples.Length][];
        double[][] losses = new double[multiples.Length][];
        for (int run = 0; run < multiples.Length; run++)
        {
            using var model = new Dit(TinyModels.TrainingDit, TestBackends.Get(backend));
            model.Initialize(3);
            using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config with { GradientAccumulationSteps = 2 },
                DataParallelGroup.Single, multiples[run]);
            losses[run] = Enumerable.Range(0, 2).Select(_ => trainer.TrainStep().Loss).ToArray();
            weights[run] = model.Parameters.All.ToArray();
        }
        for (int run = 1; run < multiples.Length; run++)
        {
            Assert.Equal(losses[0], losses[run]);
            Assert.Equal(weights[0], weights[run]);
        }
    }

    /// <summary>
    /// The host's waits for an ILGPU device in a training step of two micro-batches
    /// (<see cref="IlgpuDiffusion.Compute.Device.HostWaits"/>): each drains a GPU's queue. One: the read of the step's
    /// per-row losses and gradient norm together at its end. Uploads (corrupted batch, loss inputs, the embedding
    /// backward's plan) are queued behind the work through page-locked staging, and the clip factor is computed on the
    /// device. (13 waits when uploads waited and the losses and norm were read one by one; 21 when the ids that ops check
    /// were read back rather than checked on the host.)
    /// </summary>
    [Fact]
    public void A_training_step_on_an_ilgpu_device_waits_for_it_once()
    {
        using var data = new TinyTraining();
        var device = TestBackends.Get("ilgpu-cpu");
        using var model = new Dit(TinyModels.TrainingDit, device);
        model.Initialize(3);
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config with { GradientAccumulationSteps = 2 });
        trainer.TrainStep();
        long before = device.HostWaits;
        trainer.TrainStep();
        long waits = device.HostWaits - before;
        Assert.Equal(1, waits);
    }

    [Fact]
    public void Validation_perplexity_is_deterministic_and_summed_in_double_over_the_whole_split()
    {
        // 10 sequences in batches of 4: two full batches and a remainder of 2.
        using var data = new TinyTraining(validationSequences: 10);
        using var model = TinyTraining.NewModel();
        using var validation = new ValidationPerplexity(TinyModels.TrainingDit, model.Device, data.Validation, batchSize: 4, seed: 5);
        ValidationMetrics first = validation.Evaluate(model.Parameters.All, step: 0);
        ValidationMetrics second = validation.Evaluate(model.Parameters.All, step: 0);
        Assert.Equal(first, second with { Seconds = first.Seconds });
        Assert.Equal(10 * TinyModels.Length, first.Tokens);

        // Fresh weights give logits ≡ 0, so each masked token costs exactly ln(31); rebuild the NELBO from the same
        // validation times and masks on the host.
        var diffusion = new MaskedDiffusion(NoiseSchedule.LogLinear, TinyModels.TrainingDit.MaskIndex);
        double sum = 0;
        int[] clean = new int[4 * TinyModels.Length];
        ulong batchIndex = 0;
        foreach (int size in new[] { 4, 4, 2 })
        {
            var batch = new CorruptedBatch(size, TinyModels.Length);
            TimeSampler.Mdlm.Sample(TrainingSeeds.ValidationTimes(5), batchIndex, batch.Times);
            diffusion.Corrupt(clean.AsSpan(0, batch.Elements), TrainingSeeds.ValidationMasks(5), batchIndex++, batch);
            for (int m = 0; m < batch.MaskedCount; m++) sum += Math.Log(31) / batch.Times[batch.MaskedRows[m] / TinyModels.Length];
        }
        double expected = sum / first.Tokens;
        Assert.True(Math.Abs(first.Nelbo / expected - 1) < 1e-6, $"NELBO {first.Nelbo}, expected {expected}");
        Assert.Equal(Math.Exp(first.Nelbo), first.Perplexity);
    }

    [Fact]
    public void Validation_of_the_ema_weights_improves_with_training()
    {
        using var data = new TinyTraining();
        using var model = TinyTraining.NewModel();
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config with { EmaDecay = 0.9 });
        using var validation = new ValidationPerplexity(TinyModels.TrainingDit, model.Device, data.Validation, batchSize: 4, seed: 5);
        double before = validation.Evaluate(trainer.Ema.Weights, 0).Perplexity;
        var log = new StringWriter();
        using (var metrics = new MetricsLog(log, null))
            trainer.Run(60, new MdlmTrainingRunOptions { Log = metrics, Validation = validation });
        double after = validation.Evaluate(trainer.Ema.Weights, 60).Perplexity;
        Assert.Equal(after, trainer.LastValidation!.Perplexity);
        Assert.True(after < 0.7 * before, $"validation PPL went from {before:F2} to {after:F2}");
        string[] lines = log.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(60 / 5 + 1, lines.Length);
        Assert.StartsWith("step 5 | loss ", lines[0]);
        Assert.Matches(@"\| mask attn H \d+\.\d\d$", lines[0]);
        Assert.Contains("validation NELBO", lines[^1]);
    }
}
