using System.CommandLine;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>Which device: a backend name and a GEMM precision, as the user picked them.</summary>
/// <param name="Backend">The <c>--device</c> value (auto, cpu, cuda, ...).</param>
/// <param name="Precision">The <c>--precision</c> value (auto, fp32, tf32, bf16).</param>
internal sealed record DeviceChoice(string Backend, string Precision)
{
    /// <summary>
    /// Opens device <paramref name="index"/> of the backend (a data-parallel rank's local rank; one CPU device whatever it is).
    /// </summary>
    /// <exception cref="ArgumentException">A name is unknown, the backend has fewer devices, or the device cannot multiply in the
    /// precision asked.</exception>
    public Device Open(int index = 0) => Device.Create(BackendNames.Parse(Backend), MatMulPrecisions.Parse(Precision), index);
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

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public DeviceOptions(Command command)
    {
        _device.AcceptOnlyFromAmong(BackendNames.Accepted.Split(", "));
        _precision.AcceptOnlyFromAmong(MatMulPrecisions.Accepted.Split(", "));
        command.Options.Add(_device);
        command.Options.Add(_precision);
    }

    /// <summary>What the user picked.</summary>
    public DeviceChoice Choice(ParseResult parse) => new(parse.GetValue(_device)!, parse.GetValue(_precision)!);

    /// <summary>Opens the device the user picked (device <paramref name="index"/> of its backend).</summary>
    /// <exception cref="ArgumentException">The backend has fewer devices, or the device cannot multiply in the precision asked.</exception>
    public Device Open(ParseResult parse, int index = 0) => Choice(parse).Open(index);
}
