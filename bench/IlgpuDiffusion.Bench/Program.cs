using BenchmarkDotNet.Running;

// Runs the suites named on the command line (BenchmarkDotNet's --filter syntax), e.g.
//   dotnet run -c Release --project bench/IlgpuDiffusion.Bench -- --filter '*Gemm*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
