using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Tests.Ilgpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>
/// The backends every conformance test runs on: the SIMD CPU backend, ILGPU kernels on
/// ILGPU's CPU emulator (tiny shapes only), and CUDA. A CUDA row is always listed; on a machine
/// without a CUDA device it is skipped with <see cref="NoCuda"/> as the reason (the theories that take
/// these rows are <c>[SkippableTheory]</c>). Devices are opened once per process and shared.
/// </summary>
public static class TestBackends
{
    private static readonly Dictionary<string, Lazy<Device>> Devices = new()
    {
        ["cpu"] = new(() => Device.Create("cpu")),
        ["ilgpu-cpu"] = new(() => Device.Create("ilgpu-cpu")),
        ["cuda"] = new(() => Device.Create(Backend.Cuda, MatMulPrecision.Fp32)),
        ["cuda-tf32"] = new(() => Device.Create(Backend.Cuda, MatMulPrecision.Tf32)),
        ["cuda-bf16"] = new(() => Device.Create(Backend.Cuda, MatMulPrecision.Bf16)),
        ["cuda-bf16-pipelined"] = new(() => IlgpuDevice.Open(Backend.Cuda, MatMulPrecision.Bf16, index: 0,
            new KernelChoices(PipelinedCopies: true, PipelinedAttention: true))),
        ["cuda-tf32-pipelined"] = new(() => IlgpuDevice.Open(Backend.Cuda, MatMulPrecision.Tf32, index: 0,
            new KernelChoices(PipelinedCopies: true))),
        ["cuda-bf16-warpgroup"] = new(() => IlgpuDevice.Open(Backend.Cuda, MatMulPrecision.Bf16, index: 0,
            new KernelChoices(PipelinedCopies: true, PipelinedAttention: true, WarpgroupProducts: true))),
        ["cuda-tf32-warpgroup"] = new(() => IlgpuDevice.Open(Backend.Cuda, MatMulPrecision.Tf32, index: 0,
            new KernelChoices(WarpgroupProducts: true))),
    };

    /// <summary>Why a CUDA row is skipped on this machine.</summary>
    public const string NoCuda = "No CUDA device: the CUDA row runs on a machine with an NVIDIA GPU";

    /// <summary>
    /// Names the only backends <see cref="All"/> lists (comma-separated), e.g. "cuda" for a GPU machine's check, whose device
    /// time the CPU rows would spend; unset, all of them.
    /// </summary>
    public const string BackendsVariable = "ILGPUDIFFUSION_TEST_BACKENDS";

    /// <summary>Why an emulated tensor-core row is skipped on a machine with a CUDA device.</summary>
    public const string EmulationOnGpu = "A CUDA device is present: the cuda rows make this check on the hardware";

    /// <summary>
    /// xunit member data: one row per backend, the CUDA row on every machine (where no CUDA device is present,
    /// its tests skip when they ask <see cref="Get"/> for the device); only those <see cref="BackendsVariable"/> names where
    /// it is set.
    /// </summary>
    public static IEnumerable<object[]> All
    {
        get
        {
            string[]? only = Environment.GetEnvironmentVariable(BackendsVariable)?.Split(',', StringSplitOptions.TrimEntries);
            foreach (string backend in new[] { "cpu", "ilgpu-cpu", "cuda" })
                if (only is null || only.Contains(backend))
                    yield return [backend];
        }
    }

    /// <summary>
    /// Skips a row that emulates tensor cores on ILGPU's CPU accelerator (its name starts with "emulated") where a CUDA
    /// device is present: the test's cuda rows make the same checks on the hardware, and the emulation, one multiprocessor
    /// wide, would spend minutes of a GPU machine's time. Call it from a <c>[SkippableTheory]</c>.
    /// </summary>
    public static void SkipEmulationWhereCudaRuns(string row) =>
        Skip.If(row.StartsWith("emulated", StringComparison.Ordinal) && IlgpuRuntime.HasCuda, EmulationOnGpu);

    /// <summary>
    /// CUDA with tensor-core GEMMs, per precision: the rows of the GEMM tests that compare against a reference rounding its
    /// inputs the same way (the "cuda" row multiplies in fp32, as every other test expects); "cuda-bf16-pipelined" and
    /// "cuda-tf32-pipelined" run their products on copies of the operands staged through cp.async (not the default yet), the
    /// first also its BF16 attention of heads of 64 on tiles copied by cp.async; "cuda-bf16-warpgroup" is that device with its
    /// products on copies on Hopper's warpgroup products (where the GPU has them, compute capability 9.0; elsewhere it is
    /// "cuda-bf16-pipelined" again), "cuda-tf32-warpgroup" TF32 on TF32 copies on them (elsewhere "cuda-tf32").
    /// </summary>
    public static IEnumerable<object[]> TensorCores
    {
        get
        {
            yield return ["cuda-tf32"];
            yield return ["cuda-bf16"];
            yield return ["cuda-bf16-pipelined"];
            yield return ["cuda-tf32-pipelined"];
            yield return ["cuda-bf16-warpgroup"];
            yield return ["cuda-tf32-warpgroup"];
        }
    }

    /// <summary>Backends fast enough for realistic shapes (everything but the ILGPU CPU emulator).</summary>
    public static IEnumerable<object[]> Fast => All.Where(row => (string)row[0] != "ilgpu-cpu");

    /// <summary>
    /// The relative tolerance for results built on exp/tanh: CUDA evaluates them with PTX's approximate
    /// instructions (ex2.approx), whose few-ulp errors grow past 1e-4 where a GELU derivative or a small
    /// logit comes out of cancellation (measured on an H200: 1.1e-4 to 3.4e-4), so CUDA gets 1e-3.
    /// </summary>
    public static double TranscendentalTolerance(string backend, double tolerance) =>
        backend == "cuda" ? Math.Max(tolerance, 1e-3) : tolerance;

    /// <summary>
    /// The shared device for <paramref name="backend"/>; for "cuda" on a machine without a CUDA device it skips
    /// the calling test (a <c>[SkippableFact]</c> or <c>[SkippableTheory]</c>) with <see cref="NoCuda"/>.
    /// </summary>
    public static Device Get(string backend)
    {
        Skip.If(backend.StartsWith("cuda", StringComparison.Ordinal) && !IlgpuRuntime.HasCuda, NoCuda);
        return Devices[backend].Value;
    }

    /// <summary>
    /// A new device of the caller's own for <paramref name="backend"/> ("cuda" multiplying in fp32), for a test that counts
    /// or times what the device does (the shared ones see other tests' work); skips the calling test for "cuda" as
    /// <see cref="Get"/> does.
    /// </summary>
    public static Device Own(string backend)
    {
        Skip.If(backend == "cuda" && !IlgpuRuntime.HasCuda, NoCuda);
        return backend == "cuda" ? Device.Create(Backend.Cuda, MatMulPrecision.Fp32) : Device.Create(backend);
    }
}

/// <summary>
/// Tests on the shared devices run one at a time: a device is safe to use from several threads (DeviceThreadSafetyTests),
/// but a test that profiles a device or counts its allocations needs the device to itself. The tests of the emulated
/// tensor cores run here too, on one shared <see cref="TensorCoreGemmTests.Emulator"/>: each emulated launch runs 256
/// threads, and two such test classes at once on a CPU of two cores took three times as long.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ConformanceCollection : ICollectionFixture<TensorCoreGemmTests.Emulator>
{
    /// <summary>The collection name.</summary>
    public const string Name = "Conformance";
}
