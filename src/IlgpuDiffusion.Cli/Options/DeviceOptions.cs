using System.CommandLine;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using ComputeBackend = IlgpuDiffusion.Compute.Backend;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>Which device: a backend name and a GEMM precision, as the user picked them.</summary>
/// <param name="Backend">The <c>--device</c> value (auto, cpu, cuda, ...).</param>
/// <param name="Precision">The <c>--precision</c> value (auto, fp32, tf32, bf16).</param>
/// <param name="GemmStaging">The hidden <c>--gemm-staging</c> value (registers, cp-async, warpgroup), or null for the
/// library's default: how the tensor-core GEMMs on copies of their operands bring their tiles into shared memory (BF16 copies:
/// through registers or cp.async; TF32 ones exist only for cp.async, so "registers" is the TF32 kernels on fp32 operands),
/// and, under bf16, how the attention of heads of 64 brings its tiles (<see cref="KernelChoices.PipelinedAttention"/>), for
/// timing one staging against the other; "warpgroup" is cp-async with the BF16 GEMMs on copies on Hopper's warpgroup
/// products (<see cref="KernelChoices.WarpgroupProducts"/>, compute capability 9.0).</param>
internal sealed record DeviceChoice(string Backend, string Precision, string? GemmStaging = null)
{
    /// <summary>
    /// Opens device <paramref name="index"/> of the backend (a data-parallel rank's local rank; one CPU device whatever it is).
    /// </summary>
    /// <exception cref="ArgumentException">A name is unknown, the backend has fewer devices, or the device cannot multiply in the
    /// precision asked.</exception>
    /// <exception cref="UsageException">A GEMM staging asked of a device that does not multiply in tf32 or bf16 on tensor
    /// cores.</exception>
    public Device Open(int index = 0)
    {
        ComputeBackend? backend = BackendNames.Parse(Backend);
        MatMulPrecision? precision = MatMulPrecisions.Parse(Precision);
        if (GemmStaging is null) return Device.Create(backend, precision, index);
        if (precision is not (MatMulPrecision.Tf32 or MatMulPrecision.Bf16) || backend is not (ComputeBackend.Cuda or null))
            throw new UsageException("--gemm-staging applies to the TF32 and BF16 GEMMs of a CUDA GPU: give it with --precision " +
                "tf32 or bf16 on --device cuda (or auto).");
        bool warpgroup = GemmStaging == DeviceOptions.WarpgroupStaging;
        bool copied = warpgroup || GemmStaging == DeviceOptions.AsyncStaging;
        return IlgpuDevice.Open(ComputeBackend.Cuda, precision, index,
            new KernelChoices(PipelinedCopies: copied, PipelinedAttention: copied, WarpgroupProducts: warpgroup));
    }
}

/// <summary>The <c>--device</c> and <c>--precision</c> options shared by the commands that run a model.</summary>
internal sealed class DeviceOptions
{
    private readonly Option<string> _device = new("--device")
    {
        Description = "Where the model runs: auto (a CUDA GPU when present, else the CPU), cpu (SIMD), cuda, " +
            "ilgpu-cpu (ILGPU's CPU emulator, for kernel tests on tiny models) or opencl",
        DefaultValueFactory = _ => "auto",
    };

    private readonly Option<string> _precision = new("--precision")
    {
        Description = "How GEMMs multiply: auto (TF32 tensor cores on CUDA GPUs of compute capability 8.0+, else fp32), " +
            "fp32, tf32 or bf16 (storage and accumulation stay fp32)",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>The <c>--gemm-staging</c> value that stages copies of the GEMMs' operands through cp.async.</summary>
    public const string AsyncStaging = "cp-async";

    /// <summary>
    /// The <c>--gemm-staging</c> value that stages as <see cref="AsyncStaging"/> does and runs the BF16 GEMMs on copies on
    /// Hopper's warpgroup products.
    /// </summary>
    public const string WarpgroupStaging = "warpgroup";

    /// <summary>
    /// Hidden: for timing the two stagings of the tensor-core GEMMs against each other on a GPU (tools/device), not a
    /// user's setting; the library's default until a GPU has timed both.
    /// </summary>
    private readonly Option<string?> _staging = new("--gemm-staging")
    {
        Description = "How tensor-core GEMMs (and BF16 attention) bring tiles into shared memory: registers, cp-async, or " +
            "warpgroup (cp-async, BF16 GEMMs on Hopper's warpgroup products) (CUDA, --precision tf32|bf16)",
        Hidden = true,
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public DeviceOptions(Command command)
    {
        _device.AcceptOnlyFromAmong(BackendNames.Accepted.Split(", "));
        _precision.AcceptOnlyFromAmong(MatMulPrecisions.Accepted.Split(", "));
        _staging.AcceptOnlyFromAmong("registers", AsyncStaging, WarpgroupStaging);
        command.Options.Add(_device);
        command.Options.Add(_precision);
        command.Options.Add(_staging);
    }

    /// <summary>What the user picked.</summary>
    public DeviceChoice Choice(ParseResult parse) =>
        new(parse.GetValue(_device)!, parse.GetValue(_precision)!, parse.GetValue(_staging));

    /// <summary>Opens the device the user picked (device <paramref name="index"/> of its backend).</summary>
    /// <exception cref="ArgumentException">The backend has fewer devices, or the device cannot multiply in the precision asked.</exception>
    public Device Open(ParseResult parse, int index = 0) => Choice(parse).Open(index);
}
