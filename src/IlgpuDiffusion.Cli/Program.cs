// The ilgpu-diffusion command-line tool: prepare corpora, train MDLMs, sample and inspect checkpoints.
// Everything happens in CliApplication so that tests run the same entry point in-process.
using System.Runtime.InteropServices;
using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Files;

// The first Ctrl+C or SIGTERM during a training run stops it after its current step with its checkpoint written (during
// serve: stops the server once the requests in flight are answered); any other
// ends the process as usual, after deleting the temporary files of the checkpoints or outputs being written.
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
return await CliApplication.RunAsync(args, Console.Out, Console.Error);

static void Stop(PosixSignalContext context)
{
    if (Interruption.RequestStop())
    {
        context.Cancel = true;
        Console.Error.WriteLine(Interruption.StoppingNotice);
        return;
    }
    if (DataParallelJob.SignalNotice is { } notice) Console.Error.WriteLine(notice);
    AtomicFile.AbandonWritesInProgress();
}
