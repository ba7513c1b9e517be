using System.CommandLine;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>The <c>--device</c> option shared by the commands that run a model.</summary>
internal static class DeviceOption
{
    /// <summary>A new <c>--device</c> option, default <c>auto</c>; open its value with <see cref="Device.Create(string?)"/>.</summary>
    public static Option<string> Create()
    {
        var option = new Option<string>("--device")
        {
            Description = "Where the model runs: auto (a CUDA GPU when present, else the CPU), cpu (SIMD), cuda, " +
                "ilgpu-cpu (ILGPU's CPU emulator, for kernel tests on tiny models) or opencl",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong(BackendNames.Accepted.Split(", "));
        return option;
    }
}
