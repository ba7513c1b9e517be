// The ilgpu-diffusion command-line tool: prepare corpora, train MDLMs, sample and inspect checkpoints.
// Everything happens in CliApplication so that tests run the same entry point in-process.
using System.Runtime.InteropServices;
using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Files;

// Ctrl+C and SIGTERM end the process as usual, but first delete the temporary files of the checkpoints or outputs being written.
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => AtomicFile.AbandonWritesInProgress());
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => AtomicFile.AbandonWritesInProgress());
return await CliApplication.RunAsync(args, Console.Out, Console.Error);
