using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Compute;

/// <summary>
/// One device, several threads: different models trained and sampled at the same time give exactly what each gives alone.
/// The CPU row spreads its workloads over a device of its own and the shared one, so the calls of two devices meet in the
/// process's worker pool; the ILGPU rows take the shared devices, whose kernels the other tests have already compiled.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class DeviceThreadSafetyTests
{
    /// <summary>Work that runs on a device and returns every number it produced (parameters, sampled ids).</summary>
    private delegate float[] Workload(Device device, TinyTraining data);

    [SkippableTheory]
    [InlineData("cpu", 4, 10)]
    [InlineData("ilgpu-cpu", 1, 1)]
    [InlineData("cuda", 4, 3)]
    public void Models_run_concurrently_on_one_device_give_their_serial_results(string backend, int steps, int repeats)
    {
        using var ownDevice = backend == "cpu" ? Device.Create(backend) : null;
        var shared = TestBackends.Get(backend);
        Device DeviceOf(int workload) => ownDevice is not null && workload % 2 == 0 ? ownDevice : shared;
        using var data = new TinyTraining();
        Workload[] workloads =
        [
            (d, corpus) => TrainDit(d, corpus, steps, TinyModels.TrainingDit, seed: 3),
            (d, corpus) => TrainDit(d, corpus, steps, TinyModels.TrainingDit with { QkNorm = true, Layers = 1 }, seed: 4),
            (d, corpus) => TrainGpt(d, corpus, steps),
            (d, _) => SampleDit(d, steps),
            (d, _) => DecodeGpt(d),
        ];
        var serial = workloads.Select((work, w) => work(DeviceOf(w), data)).ToArray();

        for (int repeat = 0; repeat < repeats; repeat++)
        {
            using var start = new Barrier(workloads.Length);
            var concurrent = workloads
                .Select((work, w) => Task.Factory.StartNew(() =>
                {
                    start.SignalAndWait();
                    return work(DeviceOf(w), data);
                }, TaskCreationOptions.LongRunning))
                .ToArray();
            Task.WaitAll(concurrent);
            for (int w = 0; w < workloads.Length; w++)
                Assert.True(serial[w].AsSpan().SequenceEqual(concurrent[w].Result),
                    $"Workload {w} gave other numbers beside the others (repeat {repeat}) than alone.");
        }
    }

    private static float[] TrainDit(Device device, TinyTraining data, int steps, DitConfig config, ulong seed)
    {
        using var model = new Dit(config, device);
        model.Initialize(seed);
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config);
        for (int s = 0; s < steps; s++) trainer.TrainStep();
        return model.Parameters.All.ToArray();
    }

    private static float[] TrainGpt(Device device, TinyTraining data, int steps)
    {
        using var model = new Gpt(TinyModels.LearningGpt(TinyModels.Vocab, TinyModels.Length), device);
        model.Initialize(5);
        using var trainer = new ArTrainer(model, data.Train, TinyTraining.Config);
        for (int s = 0; s < steps; s++) trainer.TrainStep();
        return model.Parameters.All.ToArray();
    }

    private static float[] SampleDit(Device device, int steps)
    {
        using var model = new Dit(TinyModels.SamplerDit(timeConditioning: true), device, withGradients: false);
        TinyModels.Randomize(model.Parameters, seed: 6);
        using var sampler = new DiffusionSampler(model, new SamplerOptions { Steps = steps, BatchSize = 3, Seed = 7 });
        return [.. sampler.Sample().Ids.Select(id => (float)id)];
    }

    private static float[] DecodeGpt(Device device)
    {
        var config = TinyModels.RandomGpt();
        using var model = new Gpt(config, device, withGradients: false);
        TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(config, seed: 8));
        using var decoder = new GptDecoder(model, batchSize: 2, capacity: config.Length, maxPromptLength: 2,
            new GptSamplingOptions { Seed = 9 });
        var result = decoder.Generate([[1, 2], [3, 4]]);
        return [.. result.Tokens.SelectMany(tokens => tokens).Select(id => (float)id)];
    }
}
