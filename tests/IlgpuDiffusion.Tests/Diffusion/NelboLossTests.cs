using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Diffusion;

[Collection(ConformanceCollection.Name)]
public sealed class NelboLossTests
{
    private const int Batch = 3, Length = 16, Classes = 11, Mask = 10;

    /// <summary>
    /// The loss computed directly over all B·L slots as MDLM does: SUBS log-probs at every position (masked rows:
    /// log-softmax with the MASK logit suppressed; unmasked rows: log p = 0 at the observed token by carry-over),
    /// times 1/t, summed and divided by B·L.
    /// </summary>
    private static double DirectLoss(float[] logits, int[] clean, CorruptedBatch batch)
    {
        double sum = 0;
        for (int p = 0; p < Batch * Length; p++)
        {
            if (batch.NoisyIds[p] != Mask) continue;   // carry-over: −log p(x⁰ = z_t) = 0
            double max = double.NegativeInfinity;
            for (int v = 0; v < Classes; v++) max = Math.Max(max, Logit(logits, p, v));
            double z = 0;
            for (int v = 0; v < Classes; v++) z += Math.Exp(Logit(logits, p, v) - max);
            double logProb = Logit(logits, p, clean[p]) - max - Math.Log(z);
            sum += -logProb / batch.Times[p / Length];
        }
        return sum / (Batch * Length);
    }

    private static double Logit(float[] logits, int row, int v) => logits[row * Classes + v] + (v == Mask ? -1e6 : 0);

    [Fact]
    public void Loss_sums_masked_rows_weighted_by_one_over_t_and_divides_by_all_token_slots()
    {
        using var scope = new DeviceScope("cpu");
        float[] logits = Numerics.Random(Batch * Length * Classes, seed: 4, scale: 3);
        int[] clean = Enumerable.Range(0, Batch * Length).Select(i => (i * 7) % Mask).ToArray();
        var batch = new CorruptedBatch(Batch, Length);
        double[] times = [0.2, 0.5, 0.9];
        times.CopyTo(batch.Times, 0);
        new MaskedDiffusion(NoiseSchedule.LogLinear, Mask).Corrupt(clean, seed: 2, stream: 0, batch);
        Assert.InRange(batch.MaskedCount, 5, Batch * Length - 5);

        // The head computes only the masked rows, in the order of the masked-row list.
        int masked = batch.MaskedCount;
        var rowLogits = new float[masked * Classes];
        for (int m = 0; m < masked; m++)
            Array.Copy(logits, batch.MaskedRows[m] * Classes, rowLogits, m * Classes, Classes);
        using var loss = new NelboLoss(scope.Device, Batch, Length, new HeadLayout(Classes, Classes));
        loss.Upload(batch);
        var logitsOnDevice = scope.Upload(rowLogits);
        var dLogits = scope.Zeros(masked * Classes);
        const float gradScale = 1f / (Batch * Length * 2);
        double value = loss.EvaluateSum(logitsOnDevice, dLogits, gradScale) / loss.TokenSlots;

        Assert.Equal(DirectLoss(logits, clean, batch), value, 5);
        var expectedGradient = new double[masked * Classes];
        for (int m = 0; m < masked; m++)
        {
            int row = batch.MaskedRows[m];
            double max = Enumerable.Range(0, Classes).Max(v => Logit(logits, row, v));
            double z = Enumerable.Range(0, Classes).Sum(v => Math.Exp(Logit(logits, row, v) - max));
            for (int v = 0; v < Classes; v++)
            {
                double p = Math.Exp(Logit(logits, row, v) - max) / z;
                expectedGradient[m * Classes + v] = gradScale / batch.Times[row / Length] * (p - (v == clean[row] ? 1 : 0));
            }
        }
        Numerics.AssertClose(expectedGradient, DeviceScope.Download(dLogits), 1e-5, "dLogits");
    }

    [Fact]
    public void A_batch_without_masked_rows_has_loss_zero()
    {
        using var scope = new DeviceScope("cpu");
        var batch = new CorruptedBatch(Batch, Length);
        Array.Fill(batch.Times, 1e-9);
        new MaskedDiffusion(NoiseSchedule.LogLinear, Mask).Corrupt(new int[Batch * Length], seed: 1, stream: 0, batch);
        Assert.Equal(0, batch.MaskedCount);
        using var loss = new NelboLoss(scope.Device, Batch, Length, new HeadLayout(Classes, Classes));
        loss.Upload(batch);
        Assert.Equal(0, loss.EvaluateSum(scope.Zeros(Classes), null, 1f));
    }
}
