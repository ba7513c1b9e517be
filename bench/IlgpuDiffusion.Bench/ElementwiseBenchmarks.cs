using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// Memory-bound ops of the DiT block on the SIMD CPU backend at the small model's shape
/// (2 sequences × 1024 tokens × 768 channels), reported in GB/s of compulsory traffic.
/// <see cref="Copy"/> (one read + one write stream) is the machine's bandwidth yardstick in the same run.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class ElementwiseBenchmarks
{
    internal const int Batch = 2, Tokens = 1024, Channels = 768, Rows = Batch * Tokens, Count = Rows * Channels;

    private Device _device = null!;
    private IKernels _k = null!;
    private Tensor<float> _x, _y, _dy, _dx, _weight, _dWeight, _mean, _rstd, _shift, _scale, _dShift, _dScale;

    [GlobalSetup]
    public void Setup()
    {
        _device = Device.Create("cpu");
        _k = _device.Kernels;
        var random = new Random(1);
        Tensor<float> T(int n) =>
            _device.Upload<float>(Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() - 0.5f).ToArray(), new Shape(n));
        (_x, _y, _dy, _dx) = (T(Count), T(Count), T(Count), T(Count));
        (_weight, _dWeight, _mean, _rstd) = (T(Channels), T(Channels), T(Rows), T(Rows));
        (_shift, _scale, _dShift, _dScale) = (T(Batch * Channels), T(Batch * Channels), T(Batch * Channels), T(Batch * Channels));
        _k.LayerNormForward(_x, _weight, _y, _mean, _rstd, Rows, Channels, 1e-5f);
    }

    [GlobalCleanup]
    public void Cleanup() => _device.Dispose();

    [Benchmark(Baseline = true), Traffic(2L * Count * sizeof(float))]
    public void Copy() => _k.Copy(_x, _y, Count);

    [Benchmark, Traffic(2L * Count * sizeof(float))]
    public void LayerNormForward() => _k.LayerNormForward(_x, _weight, _y, _mean, _rstd, Rows, Channels, 1e-5f);

    [Benchmark, Traffic(4L * Count * sizeof(float))]
    public void LayerNormBackward() => _k.LayerNormBackward(_dy, _x, _weight, _mean, _rstd, _dx, _dWeight, Rows, Channels);

    [Benchmark, Traffic(2L * Count * sizeof(float))]
    public void GeluForward() => _k.GeluForward(_x, _y, Count);

    [Benchmark, Traffic(4L * Count * sizeof(float))]
    public void GeluBackward() => _k.GeluBackward(_dy, _x, _dx, Count);

    [Benchmark, Traffic(2L * Count * sizeof(float))]
    public void ModulateForward() => _k.ModulateForward(_x, _shift, _scale, _y, Batch, Tokens, Channels);

    [Benchmark, Traffic(4L * Count * sizeof(float))]
    public void ModulateBackward() => _k.ModulateBackward(_dy, _x, _scale, _dx, _dShift, _dScale, Batch, Tokens, Channels);

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.ShortRun);
            AddColumn(new TrafficColumn());
        }
    }
}
