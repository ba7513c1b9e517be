using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu;
using IlgpuDiffusion.Cpu.Gemm;
using TorchSharp;
using static TorchSharp.torch;

namespace IlgpuDiffusion.Bench.Gemm;

/// <summary>
/// Decode-time Linear forwards (a few rows against a large weight, see <see cref="GemvShape"/>), which are bound by
/// reading the weight: our <see cref="SimdGemm"/> (its skinny path), a copy of the weight's bytes split over the same
/// worker pool as the bandwidth yardstick, and TorchSharp-cpu's <c>torch.nn.functional.linear</c> with as many threads as
/// our pool. Columns: GB/s of weight bytes per mean time (for the copy: bytes read per second), ours over the copy, ours
/// over torch.
/// </summary>
[Config(typeof(Config))]
public unsafe class GemvBenchmarks
{
    private float* _input, _weight, _output, _copy;
    private Tensor? _torchInput, _torchWeight;
    private readonly CopyJob _copyJob = new();

    /// <summary>The product being measured.</summary>
    [ParamsSource(nameof(Shapes))]
    public GemvShape Shape { get; set; } = null!;

    /// <summary>Every benchmarked shape.</summary>
    public static IEnumerable<GemvShape> Shapes => GemvShape.All();

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(WorkerPool.Shared.Threads);
        var (m, n, k) = (Shape.M, Shape.N, Shape.K);
        _input = Allocate((long)m * k);
        _weight = Allocate((long)n * k);
        _output = Allocate((long)m * n);
        _copy = Allocate((long)n * k);
        var random = new Random(1);
        for (long i = 0; i < (long)m * k; i++) _input[i] = (float)random.NextDouble() - 0.5f;
        for (long i = 0; i < (long)n * k; i++) _weight[i] = (float)random.NextDouble() - 0.5f;
        _torchInput = torch.rand(m, k);
        _torchWeight = torch.rand(n, k);
        _copyJob.Source = (byte*)_weight;
        _copyJob.Destination = (byte*)_copy;
        _copyJob.Bytes = Shape.WeightBytes;
        _copyJob.Chunks = WorkerPool.Shared.Threads;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_input);
        NativeMemory.AlignedFree(_weight);
        NativeMemory.AlignedFree(_output);
        NativeMemory.AlignedFree(_copy);
        _torchInput?.Dispose();
        _torchWeight?.Dispose();
    }

    /// <summary>y = x·wᵀ with <see cref="SimdGemm"/> into a preallocated y.</summary>
    [Benchmark(Description = Ours)]
    public void SimdGemmLinear() =>
        SimdGemm.Multiply(MatMulLayout.ABt, _input, _weight, _output, Shape.M, Shape.N, Shape.K, accumulate: false);

    /// <summary>The weight's bytes copied to another buffer, split into one contiguous range per pool thread.</summary>
    [Benchmark(Description = Copy)]
    public void CopyWeight() => WorkerPool.Shared.Run(_copyJob, _copyJob.Chunks);

    /// <summary>torch.nn.functional.linear without bias, which allocates its result (as a TorchSharp model's Linear does).</summary>
    [Benchmark(Description = Torch)]
    public void TorchLinear()
    {
        using var result = torch.nn.functional.linear(_torchInput!, _torchWeight!);
    }

    private const string Ours = "IlgpuDiffusion SimdGemm", Copy = "copy yardstick", Torch = "torch linear";

    private static float* Allocate(long floats) => (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);

    /// <summary>Copies Bytes from Source to Destination, chunk i taking the i-th of Chunks contiguous ranges (64-byte aligned).</summary>
    private sealed class CopyJob : IParallelJob
    {
        public byte* Source, Destination;
        public long Bytes;
        public int Chunks;

        public void Execute(int chunk)
        {
            long start = Bytes * chunk / Chunks / 64 * 64, end = chunk == Chunks - 1 ? Bytes : Bytes * (chunk + 1) / Chunks / 64 * 64;
            Buffer.MemoryCopy(Source + start, Destination + start, end - start, end - start);
        }
    }

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            // In-process, as the GEMM suite: the process itself loads the bench output's patched libtorch.
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(7).WithId("short-inprocess"));
            AddColumn(new CaseColumn("WeightGBs", "GB/s", "Weight bytes (n·k·4) per second of mean time; the copy: bytes read",
                (c, ns) => (((GemvShape)c.Parameters["Shape"]).WeightBytes / ns).ToString("F1")));
            AddColumn(CaseColumn.PeerRatio("OursVsCopy", "ours/copy", "The copy's mean time over ours (= our GB/s over the copy's)",
                (row, peer) => IsOurs(row) && peer.Descriptor.WorkloadMethod.Name == nameof(CopyWeight) && SameCase(row, peer)));
            AddColumn(CaseColumn.PeerRatio("OursVsTorch", "ours/torch", "torch's mean time over ours on the same shape",
                (row, peer) => IsOurs(row) && peer.Descriptor.WorkloadMethod.Name == nameof(TorchLinear) && SameCase(row, peer)));
            HideColumns(Column.Error, Column.Job, Column.Toolchain, Column.IterationCount, Column.LaunchCount, Column.WarmupCount);
            SummaryStyle = BenchmarkDotNet.Reports.SummaryStyle.Default.WithMaxParameterColumnWidth(40);
        }

        private static bool IsOurs(BenchmarkCase c) => c.Descriptor.WorkloadMethod.Name == nameof(SimdGemmLinear);

        private static bool SameCase(BenchmarkCase x, BenchmarkCase y) =>
            Equals(x.Parameters["Shape"], y.Parameters["Shape"]) && x.Job.DisplayInfo == y.Job.DisplayInfo;
    }
}
