using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

public sealed class TrainValidationSplitTests
{
    private static int[] ValidationIndices(TrainValidationSplit split) =>
        Enumerable.Range(0, split.Documents).Where(split.IsValidation).ToArray();

    [Fact]
    public void Same_seed_gives_the_same_split_and_another_seed_another()
    {
        int[] first = ValidationIndices(new TrainValidationSplit(1000, 0.1, seed: 5));
        int[] again = ValidationIndices(new TrainValidationSplit(1000, 0.1, seed: 5));
        int[] other = ValidationIndices(new TrainValidationSplit(1000, 0.1, seed: 6));
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void The_split_is_fixed_across_platforms_and_versions() =>
        // Pinned: SplitMix64 + Fisher-Yates must never change, or old validation sets would leak into training.
        Assert.Equal([0, 1, 9], ValidationIndices(new TrainValidationSplit(10, 0.3, seed: 1)));

    [Theory]
    [InlineData(233, 0.05, 12)]
    [InlineData(1000, 0.1, 100)]
    [InlineData(10, 0.01, 1)]
    [InlineData(10, 0.0, 0)]
    public void Holds_out_the_rounded_fraction_of_documents(int documents, double fraction, int expected)
    {
        var split = new TrainValidationSplit(documents, fraction, seed: 3);
        Assert.Equal(expected, split.ValidationDocuments);
        Assert.Equal(expected, ValidationIndices(split).Length);
        Assert.Equal(documents - expected, split.TrainDocuments);
    }

    [Fact]
    public void A_fraction_that_leaves_no_training_document_is_an_error()
    {
        var error = Assert.Throws<InvalidDataException>(() => new TrainValidationSplit(1, 0.5, seed: 0));
        Assert.Contains("none for training", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainValidationSplit(10, 1.0, seed: 0));
    }
}
