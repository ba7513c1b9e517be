using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Tests.Cli;
using IlgpuDiffusion.Tests.Data;
using Xunit;
using Xunit.Abstractions;

namespace IlgpuDiffusion.Tests.Distributed;

/// <summary>
/// An SDTT round and GPT training under <c>mpirun -np 2</c> (Open MPI, CPU backend) equal their one-process runs of the same
/// global batch to fp32 rounding: teacher targets, reveals and draws are the same micro-batch by micro-batch.
/// </summary>
[Collection(DataParallelJobs.Name)]
public sealed class DataParallelDistillationTests(TinyCliRun run, ITestOutputHelper output) : IClassFixture<TinyCliRun>, IDisposable
{
    private const double Rounding = 1e-5;

    private readonly TempDirectory _temp = new();

    [SkippableFact]
    public async Task Two_ranks_distill_the_round_one_process_distills()
    {
        Skip.If(Mpirun.Path is null, Mpirun.Missing);
        string[] distill = ["distill", run.Checkpoint, "--data", run.Shards, "--initial-steps", "4", "--min-steps", "2",
            "--steps-per-round", "2", "--batch", "2", "--accumulation", "2", "--validation-batches", "1", "--device", "cpu", "--resumable"];
        var (one, two, _, job) = await SideBySide.Run(_temp, 2, distill);
        Assert.Contains("round 1 done: student samples in 2 steps", job.Out);

        const string student = "round-1-2-steps.safetensors";
        double difference = CheckpointComparison.MaxRelativeDifference(Path.Combine(one, student), Path.Combine(two, student));
        output.WriteLine($"largest relative difference of student, EMA and teacher to one process: {difference:E2}");
        Assert.InRange(difference, 0, Rounding);
        Assert.Equal(DistillationCheckpoint.Read(Path.Combine(one, student)).State,
            DistillationCheckpoint.Read(Path.Combine(two, student)).State);
    }

    [SkippableFact]
    public async Task Two_ranks_train_the_gpt_one_process_trains()
    {
        Skip.If(Mpirun.Path is null, Mpirun.Missing);
        string[] train = ["train", "--model", "ar", "--data", run.Shards, "--layers", "1", "--hidden", "32", "--heads", "2",
            "--steps", "3", "--batch", "2", "--accumulation", "2", "--validation-batches", "1", "--device", "cpu", "--resumable"];
        var (one, two, _, _) = await SideBySide.Run(_temp, 2, train, ".safetensors");

        double difference = CheckpointComparison.MaxRelativeDifference(one, two);
        output.WriteLine($"largest relative difference of the weights to one process: {difference:E2}");
        Assert.InRange(difference, 0, Rounding);
        Assert.Equal(GptCheckpoint.ReadHeader(one).State, GptCheckpoint.ReadHeader(two).State);
    }

    public void Dispose() => _temp.Dispose();
}
