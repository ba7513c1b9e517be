using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Cpu.Gemm;
using TorchSharp;
using static TorchSharp.torch;

namespace IlgpuDiffusion.Bench.Gemm;

/// <summary>
/// Our SIMD GEMM against TorchSharp-cpu (libtorch, 2 threads) on the same shapes in the
/// same process. Columns (see <see cref="GemmColumns"/>): GFLOP/s, % of the machine's
/// measured fp32 FMA peak, and our GFLOP/s over the better torch variant's.
/// </summary>
[Config(typeof(GemmConfig))]
public unsafe class GemmBenchmarks
{
    private float* _a, _b, _c;
    private Tensor? _left, _right, _output;

    /// <summary>The product being measured.</summary>
    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = null!;

    /// <summary>Every benchmarked shape.</summary>
    public static IEnumerable<GemmShape> Shapes => GemmShape.All();

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        var (m, n, k) = (Shape.M, Shape.N, Shape.K);
        _a = Allocate((long)m * k);
        _b = Allocate((long)k * n);
        _c = Allocate((long)m * n);
        var random = new Random(1);
        for (long i = 0; i < (long)m * k; i++) _a[i] = (float)random.NextDouble() - 0.5f;
        for (long i = 0; i < (long)k * n; i++) _b[i] = (float)random.NextDouble() - 0.5f;

        // Torch operands in the same layouts; transposes are views, as in a torch Linear.
        _left = Shape.Layout == MatMulLayout.AtB ? torch.rand(k, m).t() : torch.rand(m, k);   // op(a) [m,k]
        _right = Shape.Layout == MatMulLayout.ABt ? torch.rand(n, k).t() : torch.rand(k, n);  // op(b) [k,n]
        _output = torch.zeros(m, n);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_a);
        NativeMemory.AlignedFree(_b);
        NativeMemory.AlignedFree(_c);
        _left?.Dispose();
        _right?.Dispose();
        _output?.Dispose();
    }

    /// <summary>IlgpuDiffusion's <see cref="SimdGemm"/> writing into a preallocated c.</summary>
    [Benchmark(Description = GemmColumns.Ours)]
    public void Ours() => SimdGemm.Multiply(Shape.Layout, _a, _b, _c, Shape.M, Shape.N, Shape.K, accumulate: false);

    /// <summary>torch.matmul, which allocates its result (as model code written with TorchSharp does).</summary>
    [Benchmark(Description = GemmColumns.TorchMatmul)]
    public void TorchMatmul()
    {
        using var result = torch.matmul(_left!, _right!);
    }

    /// <summary>In-place addmm_ with beta = 0: the same BLAS call writing into a preallocated c.</summary>
    [Benchmark(Description = GemmColumns.TorchAddmm)]
    public void TorchAddmmInPlace() => _output!.addmm_(_left!, _right!, beta: 0, alpha: 1);

    private static float* Allocate(long floats) => (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
}
