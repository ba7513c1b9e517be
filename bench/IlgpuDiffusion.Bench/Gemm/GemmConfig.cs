using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace IlgpuDiffusion.Bench.Gemm;

/// <summary>
/// A short in-process job: the benchmark process itself loads libtorch, so it uses the
/// bench output's patched libLibTorchSharp.so (a generated child project would copy an
/// unpatched one from the NuGet cache). 3 warm-up and 7 measured iterations per case.
/// </summary>
public sealed class GemmConfig : ManualConfig
{
    public GemmConfig()
    {
        AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(7)
            .WithId("short-inprocess"));
        AddColumn(new GemmColumns.GflopsColumn(), new GemmColumns.PeakColumn(), new GemmColumns.VersusTorchColumn());
        HideColumns(Column.Error, Column.Job, Column.Toolchain, Column.IterationCount, Column.LaunchCount, Column.WarmupCount);
        SummaryStyle = BenchmarkDotNet.Reports.SummaryStyle.Default.WithMaxParameterColumnWidth(40);
    }
}
