// The ilgpu-diffusion command-line tool: prepare corpora, train MDLMs, sample and inspect checkpoints.
// Everything happens in CliApplication so that tests run the same entry point in-process.
using IlgpuDiffusion.Cli;

return await CliApplication.RunAsync(args, Console.Out, Console.Error);
