using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IlgpuDiffusion.Compute;
using TorchSharp;
using static TorchSharp.torch;
using Device = IlgpuDiffusion.Compute.Device;
using Shape = IlgpuDiffusion.Compute.Shape;

namespace IlgpuDiffusion.Bench.Losses;

/// <summary>
/// The MDLM loss head: SUBS cross-entropy forward+backward over V = 50258 for 2048 rows of
/// which half are masked (weight 1/t) and half unmasked (weight 0), on the SIMD CPU backend,
/// against TorchSharp-cpu log_softmax + nll_loss (per-row weights) + backward, 2 threads, in
/// the same process. Traffic: the logits read once and their gradient written once.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class SubsCrossEntropyBenchmarks
{
    private const int Rows = 2048, Classes = 50258, Mask = 50257;
    private const long Traffic = 2L * Rows * Classes * sizeof(float);

    private Device _device = null!;
    private Tensor<float> _logits, _dLogits, _weights, _losses;
    private Tensor<int> _targets;
    private torch.Tensor? _torchLogits, _torchTargets, _torchWeights;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        _device = Device.Create("cpu");
        var random = new Random(1);
        var logits = new float[(long)Rows * Classes];
        for (long i = 0; i < logits.LongLength; i++) logits[i] = (float)(random.NextDouble() * 8 - 4);
        var targets = Enumerable.Range(0, Rows).Select(_ => random.Next(Mask)).ToArray();
        var weights = Enumerable.Range(0, Rows).Select(r => r % 2 == 0 ? 1f / (float)(0.05 + 0.9 * random.NextDouble()) : 0f).ToArray();
        _logits = _device.Upload<float>(logits, new Shape(Rows, Classes));
        _dLogits = _device.AllocateTensor<float>(new Shape(Rows, Classes));
        _targets = _device.Upload<int>(targets, new Shape(Rows));
        _weights = _device.Upload<float>(weights, new Shape(Rows));
        _losses = _device.AllocateTensor<float>(new Shape(Rows));
        _torchLogits = torch.tensor(logits, Rows, Classes).requires_grad_(true);
        _torchTargets = torch.tensor(targets.Select(t => (long)t).ToArray());
        _torchWeights = torch.tensor(weights);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _device.Dispose();
        _torchLogits?.Dispose();
        _torchTargets?.Dispose();
        _torchWeights?.Dispose();
    }

    /// <summary>Fused SUBS cross-entropy: losses and d(logits) in one call; weight-0 rows only zero their gradient.</summary>
    [Benchmark(Description = "IlgpuDiffusion SubsCrossEntropy"), Traffic(Traffic)]
    public void Ours() =>
        _device.Kernels.SubsCrossEntropy(_logits, _targets, _weights, _losses, _dLogits, Rows, Classes, Classes, Mask, 1f / Rows);

    /// <summary>torch: log_softmax → nll_loss(reduction none) → ·weights → sum → gradient with respect to the logits.</summary>
    [Benchmark(Baseline = true, Description = "torch log_softmax+nll_loss+backward"), Traffic(Traffic)]
    public float Torch()
    {
        using var scope = torch.NewDisposeScope();
        var logProbs = torch.nn.functional.log_softmax(_torchLogits!, 1);
        var nll = torch.nn.functional.nll_loss(logProbs, _torchTargets!, reduction: nn.Reduction.None);
        var loss = (nll * _torchWeights!).sum() / Rows;
        var gradient = torch.autograd.grad([loss], [_torchLogits!])[0];
        return gradient[0, 0].item<float>();
    }

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10));
            AddColumn(new TrafficColumn());
        }
    }
}
