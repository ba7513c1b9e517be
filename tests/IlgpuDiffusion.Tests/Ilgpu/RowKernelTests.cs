using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// The one-group-per-row ILGPU kernels where the conformance suite's shapes stay inside one strided pass:
/// the full 50258-entry vocabulary on the CPU emulator, nucleus cuts among tied entries and over a long
/// row (the snapped bisection must pick the sorted definition's set), argmax ties across threads, and
/// index lists the kernels must never see.
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class RowKernelTests(IlgpuCpuFixture fixture)
{
    private const int Vocabulary = 50258, Mask = 50257;

    [Fact]
    public void Cross_entropy_and_reverse_kl_over_the_full_vocabulary_match_the_reference_and_repeat()
    {
        const int rows = 2;
        var logits = TestData.Random(rows * Vocabulary, 1, 6f);
        var teacher = Enumerable.Range(0, rows).SelectMany(r => ReferenceLosses.SubsLogSoftmax(
            Array.ConvertAll(TestData.Random(Vocabulary, 10 + r, 3f), v => (double)v), Mask).Select(v => (float)v)).ToArray();
        int[] targets = [17, 50000];
        float[] weights = [2f, 0.5f];
        var (logitsT, teacherT, targetsT, weightsT) = (fixture.Upload(logits), fixture.Upload(teacher), fixture.Upload(targets),
            fixture.Upload(weights));

        float[] Run()
        {
            var (losses, dLogits, values) = (fixture.Upload(new float[rows]), fixture.Upload(new float[rows * Vocabulary]),
                fixture.Upload(new float[rows]));
            fixture.Kernels.SubsCrossEntropy(logitsT, targetsT, weightsT, losses, dLogits, rows, Vocabulary, Vocabulary, Mask, 1f);
            fixture.Kernels.DivergenceForwardBackward(Divergence.ReverseKl, logitsT, teacherT, values, null, rows, Vocabulary, Vocabulary,
                Mask, 1f);
            return [.. losses.ToArray(), .. values.ToArray(), .. dLogits.ToArray()];
        }
        var first = Run();
        var doubles = Array.ConvertAll(logits, v => (double)v);
        var expectedLosses = ReferenceLosses.SubsCrossEntropy(doubles, targets, [2.0, 0.5], Vocabulary, Mask);
        var expectedKl = Enumerable.Range(0, rows).Select(r => ReferenceLosses.Divergence(Divergence.ReverseKl,
            doubles[(r * Vocabulary)..((r + 1) * Vocabulary)],
            Array.ConvertAll(teacher[(r * Vocabulary)..((r + 1) * Vocabulary)], v => (double)v), Mask));
        TestData.Close([.. expectedLosses, .. expectedKl], first[..(2 * rows)], 1e-5);
        var logProbs = ReferenceLosses.SubsLogSoftmax(doubles, rows, Vocabulary, Mask);
        for (int r = 0; r < rows; r++)
        {
            int at = r * Vocabulary + targets[r];
            Assert.InRange(first[2 * rows + at], weights[r] * (Math.Exp(logProbs[at]) - 1) - 1e-6,
                weights[r] * (Math.Exp(logProbs[at]) - 1) + 1e-6);
        }
        Assert.Equal(first, Run());
    }

    [Fact]
    public void Nucleus_keeps_every_entry_tied_at_the_cut()
    {
        const int rows = 100;
        float[] row = [MathF.Log(0.4f), MathF.Log(0.2f), MathF.Log(0.2f), MathF.Log(0.1f), MathF.Log(0.1f)];
        var ids = fixture.Upload(new int[rows]);
        fixture.Kernels.SampleCategorical(fixture.Upload(Enumerable.Range(0, rows).SelectMany(_ => row).ToArray()), ids, rows, 5, 5,
            new SamplingParameters(5, 1, TopP: 0.5f));
        var drawn = ids.ToArray();
        Assert.All(drawn, id => Assert.InRange(id, 0, 2)); // {0} holds 0.4 < 0.5; both entries of 0.2 join
        Assert.Contains(1, drawn);
        Assert.Contains(2, drawn);
    }

    [Theory]
    [InlineData(0.9f, 0.7f, CategoricalDraw.InverseCdf)]
    [InlineData(0.3f, 1.6f, CategoricalDraw.InverseCdf)]
    [InlineData(1f, 1f, CategoricalDraw.InverseCdf)]
    [InlineData(0.9f, 0.7f, CategoricalDraw.ExponentialRace)]
    [InlineData(0.3f, 1.6f, CategoricalDraw.ExponentialRace)]
    [InlineData(1f, 1f, CategoricalDraw.ExponentialRace)]
    public void Draws_over_a_long_row_equal_the_reference(float topP, float temperature, CategoricalDraw draw)
    {
        const int rows = 3, classes = 2001, vocab = 2000;
        var logits = TestData.Random(rows * classes, 7, 5f);
        for (int v = 0; v < 40; v++) logits[v * 37] = logits[v * 37 + 1]; // ties between entries of different threads
        var ids = fixture.Upload(new int[rows]);
        var p = new SamplingParameters(11, 2, temperature, topP, draw);
        fixture.Kernels.SampleCategorical(fixture.Upload(logits), ids, rows, classes, vocab, p);
        var expected = Enumerable.Range(0, rows).Select(r =>
            ReferenceLosses.Sample(Array.ConvertAll(logits[(r * classes)..((r + 1) * classes)], v => (double)v), r, vocab, p));
        Assert.Equal(expected, ids.ToArray());
    }

    [Fact]
    public void Argmax_ties_between_threads_go_to_the_lowest_index()
    {
        const int classes = 1000;
        var logits = TestData.Random(2 * classes, 8);
        logits[701] = logits[5] = 3f;             // row 0: two maxima in different threads' strides
        logits[classes + 999] = logits[classes + 998] = 2f; // row 1: adjacent maxima, last entries
        var ids = fixture.Upload(new int[2]);
        fixture.Kernels.Argmax(fixture.Upload(logits), ids, 2, classes, classes);
        Assert.Equal([5, 998], ids.ToArray());
    }

    [Fact]
    public void Bad_row_indices_are_rejected_before_launch()
    {
        var (table, rowsT) = (fixture.Upload(new float[4 * 3]), fixture.Upload(new float[2 * 3]));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Kernels.GatherRows(table, fixture.Upload(new[] { 1, 4 }),
            rowsT, 2, 3, 4));
        Assert.Contains("[1] = 4", error.Message);
        Assert.Throws<ArgumentException>(() => fixture.Kernels.ScatterAddRows(rowsT, fixture.Upload(new[] { 2, 2 }), table, 2, 3, 4));
        Assert.Equal(new float[12], table.ToArray());
    }
}
