using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Ilgpu;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// <c>kernels</c> refuses what it cannot do with a usage error that says why: no thread to compile on, no CUDA device, a
/// device number the machine lacks. (The fill itself is <c>KernelPrecompilerTests</c>'; on a GPU the command fills the
/// cache for it.)
/// </summary>
public sealed class KernelsCommandTests
{
    [Fact]
    public async Task No_thread_to_compile_on_is_a_usage_error()
    {
        CliResult result = await CliRunner.Run("kernels", "--threads", "0");
        Assert.Equal(CliApplication.UsageError, result.ExitCode);
        Assert.Contains("--threads must be at least 1", result.Error, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Without_a_CUDA_device_it_says_kernels_are_compiled_for_one()
    {
        Skip.If(IlgpuRuntime.HasCuda, "A CUDA device is present: there is no missing device to explain");
        CliResult result = await CliRunner.Run("kernels");
        Assert.Equal(CliApplication.UsageError, result.ExitCode);
        Assert.Contains("No CUDA device was found", result.Error, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_GPU_number_the_machine_lacks_is_a_usage_error()
    {
        Skip.If(!IlgpuRuntime.HasCuda, "No CUDA device: the CUDA devices are counted on a machine with an NVIDIA GPU");
        CliResult result = await CliRunner.Run("kernels", "--gpu", "64");
        Assert.Equal(CliApplication.UsageError, result.ExitCode);
        Assert.Contains("There is no CUDA device 64", result.Error, StringComparison.Ordinal);
    }
}
