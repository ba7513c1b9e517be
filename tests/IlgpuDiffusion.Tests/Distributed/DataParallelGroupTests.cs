using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Tests.Cli;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Distributed;

/// <summary>The one-process group, the segment split of the rank-order sums, and the launchers a job refuses.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class DataParallelGroupTests
{
    [Fact]
    public void One_process_is_rank_0_of_1_and_its_sums_return_their_input()
    {
        DataParallelGroup single = DataParallelGroup.Single;
        Assert.Equal((0, 1, true, "one process"), (single.Rank, single.Size, single.IsRoot, single.Transport));
        Assert.Equal(2.5, single.SumInRankOrder(2.5));
        using OwnedTensor<float> values = TinyModels.Cpu.Upload<float>([1f, -2f, 3f], new Shape(3));
        single.SumInRankOrder(values);
        var host = new float[3];
        ((Tensor<float>)values).CopyTo(host);
        Assert.Equal([1f, -2f, 3f], host);
        single.RequireSame("settings", "anything");
        single.Dispose(); // the shared instance outlives it
        Assert.Equal(1.0, single.SumInRankOrder(1.0));
    }

    [Theory]
    [InlineData(10, 3, new[] { 4, 3, 3 })]
    [InlineData(2, 4, new[] { 1, 1, 0, 0 })]
    [InlineData(8, 2, new[] { 4, 4 })]
    public void Segments_cover_the_values_once_in_rank_order(int length, int ranks, int[] counts)
    {
        var segments = new RankSegments(length, ranks);
        Assert.Equal(counts, segments.Counts);
        Assert.Equal(counts.Select((_, r) => counts.Take(r).Sum()), segments.Offsets);
        Assert.Equal(counts[0], segments.MaxCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RankSegments(int.MaxValue + 1L, 2));
    }

    [Fact]
    public void Another_launchers_ranks_are_refused_with_what_to_use()
    {
        using CliProcess child = CliProcess.Start(new Dictionary<string, string> { ["PMI_SIZE"] = "2", ["PMI_RANK"] = "0" },
            "train", "--embedded", "--steps", "1", "--device", "cpu");
        Assert.NotEqual(0, child.WaitForExit(TimeSpan.FromMinutes(2)));
        Assert.Contains("a launcher other than Open MPI's mpirun", child.Output);
    }
}
