using IlgpuDiffusion.Tests.Cli;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Distributed;

/// <summary>One command run in one process and as an <c>mpirun</c> job, each writing to its own output, both required to succeed.</summary>
internal static class SideBySide
{
    /// <summary>
    /// Runs <c>ilgpu-diffusion <paramref name="command"/> -o one{extension}</c> in this process, then as <paramref name="ranks"/>
    /// ranks with <c>-o ranks-N{extension}</c>; returns both outputs and both results.
    /// </summary>
    public static async Task<(string One, string Job, CliResult Single, CliResult JobResult)> Run(TempDirectory temp, int ranks,
        string[] command, string extension = "")
    {
        string one = temp.File("one" + extension), job = temp.File($"ranks-{ranks}{extension}");
        CliResult single = await CliRunner.Run([.. command, "-o", one]);
        Assert.True(single.ExitCode == 0, single.ToString());
        CliResult result = Mpirun.Run(ranks, [.. command, "-o", job]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return (one, job, single, result);
    }
}
