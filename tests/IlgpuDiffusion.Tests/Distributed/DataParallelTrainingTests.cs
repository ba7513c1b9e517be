using System.Text.RegularExpressions;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Tests.Cli;
using IlgpuDiffusion.Tests.Data;
using Xunit;
using Xunit.Abstractions;

namespace IlgpuDiffusion.Tests.Distributed;

/// <summary>
/// Training under <c>mpirun -np 2</c> (Open MPI, CPU backend): the job equals the one-process run of the same global batch
/// (data, times, masks and dropout identical; sums differ by fp32 rounding order only), two jobs are bit-identical, and a
/// one-process run resumes a two-rank checkpoint.
/// </summary>
[Collection(DataParallelJobs.Name)]
public sealed class DataParallelTrainingTests(TinyCliRun run, ITestOutputHelper output) : IClassFixture<TinyCliRun>, IDisposable
{
    /// <summary>Bound of the weights' relative difference to the one-process run after a few steps: fp32 rounding, not drift.</summary>
    private const double Rounding = 1e-5;

    private readonly TempDirectory _temp = new();

    private string[] Train(int steps, bool resumed = false) => ["train", "--data", run.Shards, .. resumed ? [] : TinyCliRun.Model,
        "--steps", steps.ToString(), "--batch", "2", "--accumulation", "2", "--validation-batches", "1", "--device", "cpu", "--resumable",
        "--checkpoint-interval", "2"];

    [SkippableFact]
    public async Task Two_ranks_train_what_one_process_trains_with_the_same_global_batch()
    {
        Skip.If(Mpirun.Path is null, Mpirun.Missing);
        var (one, two, single, job) = await SideBySide.Run(_temp, 2, Train(3), ".safetensors");
        string again = _temp.File("again.safetensors");
        Assert.Contains("Data parallel: 2 ranks over Open MPI", job.Out);
        Assert.Matches(@"Gradient sums run in host memory through Open MPI [^ ]+ \(NCCL sums on CUDA GPUs, and this rank's device " +
            @"is CPU .*\), each block's as soon as the backward pass has finished it\.", job.Out);
        Assert.Single(Regex.Matches(job.Out, @"step 3/3 \| loss")); // rank 0 alone logs
        Assert.Matches(@"step 3/3 \| loss .* ms \(sum [0-9.]+ ms\) \|", job.Out);
        Assert.DoesNotContain("(sum ", single.Out);
        Assert.Contains("\"sumMsPerStep\":", File.ReadAllText(Path.ChangeExtension(two, ".metrics.jsonl")));

        double difference = CheckpointComparison.MaxRelativeDifference(one, two);
        output.WriteLine($"largest relative difference of the weights to one process: {difference:E2}");
        Assert.InRange(difference, 0, Rounding);
        Assert.Equal(MdlmCheckpoint.ReadHeader(one).State, MdlmCheckpoint.ReadHeader(two).State);

        // The job above summed each block while the backward pass went on; summed after it, every bit is the same.
        CliResult repeated = Mpirun.Run(2, new Dictionary<string, string> { ["ILGPU_DIFFUSION_OVERLAP"] = "off" },
            [.. Train(3), "-o", again]);
        Assert.True(repeated.ExitCode == 0, repeated.ToString());
        Assert.DoesNotContain("as soon as the backward pass", repeated.Out);
        Assert.Equal(0, CheckpointComparison.MaxRelativeDifference(two, again));
    }

    [SkippableFact]
    public async Task Three_ranks_sum_segments_of_unequal_length()
    {
        Skip.If(Mpirun.Path is null, Mpirun.Missing);
        string[] train = ["train", "--data", run.Shards, .. TinyCliRun.Model, "--steps", "2", "--batch", "2", "--accumulation", "3",
            "--validation-batches", "1", "--device", "cpu", "--resumable"];
        var (one, three, _, job) = await SideBySide.Run(_temp, 3, train, ".safetensors");
        Assert.Contains("Data parallel: 3 ranks", job.Out);
        double difference = CheckpointComparison.MaxRelativeDifference(one, three);
        output.WriteLine($"largest relative difference of the weights to one process: {difference:E2}");
        Assert.InRange(difference, 0, Rounding);
    }

    [SkippableFact]
    public async Task One_process_resumes_a_two_rank_checkpoint_where_the_job_would_have_gone()
    {
        Skip.If(Mpirun.Path is null, Mpirun.Missing);
        string two = _temp.File("two.safetensors"), resumed = _temp.File("resumed.safetensors");
        CliResult job = Mpirun.Run(2, [.. Train(4), "-o", two]);
        Assert.True(job.ExitCode == 0, job.ToString());
        string halfway = _temp.File("two.step-000002.safetensors");
        Assert.Equal(2, MdlmCheckpoint.ReadHeader(halfway).State.Step);

        CliResult single = await CliRunner.Run([.. Train(4, resumed: true), "--resume", halfway, "-o", resumed]);
        Assert.True(single.ExitCode == 0, single.ToString());
        Assert.Contains($"Resuming '{halfway}' at step 2", single.Out);
        double difference = CheckpointComparison.MaxRelativeDifference(two, resumed);
        output.WriteLine($"largest relative difference of the weights to the job: {difference:E2}");
        Assert.InRange(difference, 0, Rounding);
        Assert.Equal(MdlmCheckpoint.ReadHeader(two).State, MdlmCheckpoint.ReadHeader(resumed).State);
    }

    public void Dispose() => _temp.Dispose();
}
