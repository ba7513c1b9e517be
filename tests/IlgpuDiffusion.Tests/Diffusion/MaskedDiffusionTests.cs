using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using Xunit;

namespace IlgpuDiffusion.Tests.Diffusion;

public sealed class MaskedDiffusionTests
{
    private const int Length = 4096;

    private static int[] CleanIds(int batch) => Enumerable.Range(0, batch * Length).Select(i => i % 50257).ToArray();

    [Theory]
    [InlineData(0.001)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.97)]
    public void Masked_fraction_matches_the_move_chance(double t)
    {
        var batch = new CorruptedBatch(batchSize: 8, Length);
        Array.Fill(batch.Times, t);
        MaskedDiffusion.Mdlm.Corrupt(CleanIds(8), seed: 7, stream: 0, batch);
        double p = 0.999 * t, n = batch.Elements;
        double sigma = Math.Sqrt(n * p * (1 - p));
        Assert.InRange(batch.MaskedCount, n * p - 5 * sigma - 1, n * p + 5 * sigma + 1);
    }

    [Fact]
    public void Each_sequence_is_masked_at_its_own_time_with_weight_one_over_t()
    {
        var batch = new CorruptedBatch(batchSize: 4, Length);
        double[] times = [0.05, 0.3, 0.6, 0.95];
        times.CopyTo(batch.Times, 0);
        int[] clean = CleanIds(4);
        MaskedDiffusion.Mdlm.Corrupt(clean, seed: 1, stream: 3, batch);

        var perSequence = new int[4];
        for (int m = 0; m < batch.MaskedCount; m++)
        {
            int row = batch.MaskedRows[m], sequence = row / Length;
            if (m > 0) Assert.True(batch.MaskedRows[m - 1] < row, "masked rows are listed in ascending order");
            Assert.Equal(Gpt2Tokenizer.Mask, batch.NoisyIds[row]);
            Assert.Equal(clean[row], batch.Targets[m]);
            Assert.Equal((float)(1 / times[sequence]), batch.Weights[m]);
            perSequence[sequence]++;
        }
        for (int b = 0; b < 4; b++)
        {
            double p = 0.999 * times[b], sigma = Math.Sqrt(Length * p * (1 - p));
            Assert.InRange(perSequence[b], Length * p - 5 * sigma, Length * p + 5 * sigma);
        }
        int unmasked = 0;
        for (int i = 0; i < batch.Elements; i++)
            if (batch.NoisyIds[i] != Gpt2Tokenizer.Mask) { Assert.Equal(clean[i], batch.NoisyIds[i]); unmasked++; }
        Assert.Equal(batch.Elements, unmasked + batch.MaskedCount);
    }

    [Fact]
    public void Masks_are_fixed_by_seed_and_stream()
    {
        int[] clean = CleanIds(2);
        int[] Corrupt(ulong seed, ulong stream)
        {
            var batch = new CorruptedBatch(2, Length);
            Array.Fill(batch.Times, 0.5);
            MaskedDiffusion.Mdlm.Corrupt(clean, seed, stream, batch);
            return batch.NoisyIds;
        }
        Assert.Equal(Corrupt(1, 5), Corrupt(1, 5));
        Assert.NotEqual(Corrupt(1, 5), Corrupt(1, 6));
        Assert.NotEqual(Corrupt(1, 5), Corrupt(2, 5));
    }

    [Fact]
    public void Ids_that_do_not_fill_the_batch_are_rejected()
    {
        var batch = new CorruptedBatch(2, 8);
        Array.Fill(batch.Times, 0.5);
        var error = Assert.Throws<ArgumentException>(() => MaskedDiffusion.Mdlm.Corrupt(new int[15], 1, 1, batch));
        Assert.Contains("16 ids", error.Message);
    }

    [Theory]
    [InlineData(0.3, 128)]
    [InlineData(0.5, 1000)]
    [InlineData(0.999, 128)] // nearly every position masked: the padding runs out at B·L
    public void Padded_head_rows_are_the_first_unmasked_positions_with_their_clean_ids_and_weight_zero(double t, int multiple)
    {
        var batch = new CorruptedBatch(2, Length);
        Array.Fill(batch.Times, t);
        int[] clean = CleanIds(2);
        MaskedDiffusion.Mdlm.Corrupt(clean, seed: 3, stream: 1, batch);
        int masked = batch.MaskedCount;
        Assert.Equal(masked, batch.HeadRows);
        int[] maskedRows = batch.MaskedRows[..masked];
        float[] weights = batch.Weights[..masked];

        batch.PadHeadRows(multiple);

        int expected = Math.Min((masked + multiple - 1) / multiple * multiple, batch.Elements);
        Assert.Equal(expected, batch.HeadRows);
        Assert.Equal(masked, batch.MaskedCount);
        Assert.Equal(maskedRows, batch.MaskedRows[..masked]);
        Assert.Equal(weights, batch.Weights[..masked]);
        int[] unmasked = Enumerable.Range(0, batch.Elements).Where(p => batch.NoisyIds[p] != Gpt2Tokenizer.Mask).ToArray();
        int[] padding = batch.MaskedRows[masked..expected];
        Assert.Equal(unmasked.Take(expected - masked), padding);
        Assert.Equal(padding.Select(p => clean[p]), batch.Targets[masked..expected]);
        Assert.All(batch.Weights[masked..expected], w => Assert.Equal(0f, w));
        Assert.Equal(expected, batch.MaskedRows[..expected].Distinct().Count());
    }

    [Fact]
    public void Padding_to_a_multiple_of_one_or_to_a_multiple_already_met_changes_nothing()
    {
        var batch = new CorruptedBatch(2, Length);
        Array.Fill(batch.Times, 0.5);
        MaskedDiffusion.Mdlm.Corrupt(CleanIds(2), seed: 1, stream: 0, batch);
        int masked = batch.MaskedCount;
        int[] rows = batch.MaskedRows[..(masked + 1)];
        batch.PadHeadRows(1);
        Assert.Equal(masked, batch.HeadRows);
        batch.PadHeadRows(masked);
        Assert.Equal(masked, batch.HeadRows);
        Assert.Equal(rows, batch.MaskedRows[..(masked + 1)]); // nothing written past the masked rows either
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.PadHeadRows(0));
    }
}
