using System.CommandLine;
using System.Globalization;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Ilgpu;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary>
/// <c>kernels</c>: compiles every GPU kernel for a CUDA GPU into the kernel cache, so that later runs on that GPU start
/// without compiling (a run otherwise compiles each kernel it uses on first use).
/// </summary>
internal static class KernelsCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("kernels", "Compile every GPU kernel for a CUDA GPU into the kernel cache, so that later " +
            "runs start without compiling: a run otherwise compiles each kernel it uses on first use (about half a second " +
            "each) and keeps it (cache folder: ILGPUDIFFUSION_KERNEL_CACHE, else kernels/ under ILGPUDIFFUSION_CACHE or " +
            "~/.cache/ilgpudiffusion).");
        var gpu = new Option<int>("--gpu")
        {
            Description = "The CUDA GPU to compile for, numbered from 0 (info lists them)",
            DefaultValueFactory = _ => 0,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Kernels compiled at once, each thread in a compiler of its own (default 1: a second thread " +
                "gained nothing on the 2-core machine it was measured on)",
            DefaultValueFactory = _ => 1,
        };
        command.Options.Add(gpu);
        command.Options.Add(threads);
        command.SetAction((parse, cancellation) =>
            Task.FromResult(Run(console, parse.GetValue(gpu), parse.GetValue(threads), cancellation)));
        return command;
    }

    private static int Run(CliConsole console, int index, int threads, CancellationToken cancellation)
    {
        if (threads < 1) throw new UsageException($"--threads must be at least 1 (got {threads}).");
        var cache = PtxCache.Default ?? throw new UsageException(
            $"The kernel cache is off ({PtxCache.EnvironmentVariable}=off): there is nothing to fill.");
        var devices = IlgpuRuntime.Context.GetCudaDevices();
        if (devices.Count == 0)
            throw new UsageException("No CUDA device was found (is the NVIDIA driver installed?): kernels are compiled for a GPU.");
        if (index < 0 || index >= devices.Count)
            throw new UsageException($"There is no CUDA device {index}: this machine has {devices.Count}, numbered from 0.");
        CudaDevice device = devices[index];
        if (device.Architecture is not { } architecture || device.InstructionSet is not { } instructionSet)
            throw new UsageException($"ILGPU does not support {device.Name} with this driver: no PTX target or ISA.");
        var forms = KernelPrecompiler.Forms(architecture);
        var summary = ProgressBars.Counting(console, $"Compiling kernels for {device.Name}", report =>
            KernelPrecompiler.Fill(cache, architecture, instructionSet, forms, threads,
                report is null ? null : new CountReport(done => report(done, forms.Count)), cancellation));
        console.OutConsole.Write(SettingsTable.Of("Kernels", [
            ("GPU", $"{device.Name} (sm_{architecture.Major}{architecture.Minor}, PTX ISA {instructionSet.Major}.{instructionSet.Minor})"),
            ("kernels", string.Create(CultureInfo.InvariantCulture,
                $"{summary.Forms} (each kernel without and with its launch bounds where it has them)")),
            ("compiled", string.Create(CultureInfo.InvariantCulture,
                $"{summary.Compiled} in {summary.Elapsed.TotalSeconds:F1} s on {threads} thread(s); " +
                $"{summary.Forms - summary.Compiled} were cached already")),
            ("cache", cache.Root),
        ]));
        return CliApplication.Success;
    }

    /// <summary>
    /// Forwards the count of kernels done from the compiling threads, one at a time and never backwards (a thread may report
    /// a lower count after another reported a higher one).
    /// </summary>
    private sealed class CountReport(Action<int> report) : IProgress<int>
    {
        private readonly Lock _gate = new();
        private int _done;

        public void Report(int value)
        {
            lock (_gate)
            {
                if (value <= _done) return;
                _done = value;
                report(value);
            }
        }
    }
}
