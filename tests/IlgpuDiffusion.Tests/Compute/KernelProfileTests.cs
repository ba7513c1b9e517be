using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Compute;

/// <summary>Kernel profiles: every op of a device counted and timed while one runs, nothing after, one at a time.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class KernelProfileTests
{
    [Fact]
    public void A_profile_counts_and_times_each_op_while_it_runs()
    {
        using var device = Device.Create(Backend.Cpu);
        var x = device.AllocateTensor<float>(new Shape(1 << 16));
        var y = device.AllocateTensor<float>(new Shape(1 << 16));
        device.Kernels.Fill(x, 1f, 1 << 16);                  // before the profile: not counted
        KernelProfile profile;
        using (profile = device.StartProfile())
        {
            Assert.Throws<InvalidOperationException>(() => device.StartProfile());
            Assert.False(profile.TimedOnDevice);                   // the CPU backend's ops run as they are called
            for (int i = 0; i < 3; i++) device.Kernels.Fill(x, i, 1 << 16);
            device.Kernels.Copy(x, y, 1 << 16);
        }
        device.Kernels.Copy(y, x, 1 << 16);                   // after it: not counted
        Assert.Equal([("Fill", "Utility", 3L), ("Copy", "Utility", 1L)],
            profile.Entries.Select(e => (e.Op, e.Family, e.Calls)).OrderByDescending(e => e.Item3));
        Assert.All(profile.Entries, e => Assert.True(e.Time > TimeSpan.Zero));
        Assert.True(profile.InOps <= profile.Elapsed);
        using (device.StartProfile()) { }                      // the device takes a new profile once the last is disposed
    }

    [Fact]
    public void A_training_run_leaves_validation_and_checkpoints_out_of_the_profile()
    {
        using var data = new TinyTraining(validationSequences: 8);
        using var model = TinyTraining.NewModel();
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config with { ValidationInterval = 1 });
        using var validation = new ValidationPerplexity(TinyModels.TrainingDit, model.Device, data.Validation, batchSize: 4, seed: 5);
        using var profile = model.Device.StartProfile();
        trainer.Run(3, new MdlmTrainingRunOptions { Validation = validation, CheckpointPath = data.File("profiled.safetensors") });
        profile.Dispose();
        // Each step's one forward pass over the batch: validation's forward passes (two batches of 4 per validation) are not.
        KernelProfileEntry embedding = profile.Entries.Single(e => e.Op == "EmbeddingForward");
        Assert.Equal(3, embedding.Calls);
    }
}
