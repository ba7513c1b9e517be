using IlgpuDiffusion.Diffusion;
using Xunit;

namespace IlgpuDiffusion.Tests.Diffusion;

public sealed class TimeSamplerTests
{
    /// <summary>Maps t back to the unit interval: t̃ = (t − ε)/(1 − ε).</summary>
    private static double Unit(TimeSampler sampler, double t) => (t - sampler.Epsilon) / (1 - sampler.Epsilon);

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void Mdlm_draw_puts_exactly_one_time_in_each_stratum(int n)
    {
        var sampler = TimeSampler.Mdlm;
        var times = new double[n];
        for (ulong stream = 0; stream < 50; stream++)
        {
            sampler.Sample(seed: 3, stream, times);
            for (int i = 0; i < n; i++)
            {
                Assert.InRange(times[i], 1e-3, 1.0);
                double unit = Unit(sampler, times[i]);
                Assert.True(unit >= (double)i / n - 1e-12 && unit < (double)(i + 1) / n + 1e-12,
                    $"t̃_{i} = {unit} is outside stratum {i} of {n}");
            }
        }
    }

    [Fact]
    public void Mdlm_offsets_within_strata_are_independent_and_uniform()
    {
        const int n = 16, draws = 2000;
        var times = new double[n];
        double sum = 0, sumSquares = 0;
        var sampler = TimeSampler.Mdlm;
        var distinctOffsets = 0;
        for (ulong stream = 0; stream < draws; stream++)
        {
            sampler.Sample(seed: 9, stream, times);
            double first = Unit(sampler, times[0]) * n;
            for (int i = 0; i < n; i++)
            {
                double offset = Unit(sampler, times[i]) * n - i;
                sum += offset;
                sumSquares += offset * offset;
                if (Math.Abs(offset - first) > 1e-9) distinctOffsets++;
            }
        }
        double mean = sum / (n * draws), variance = sumSquares / (n * draws) - mean * mean;
        Assert.InRange(mean, 0.5 - 0.01, 0.5 + 0.01);          // σ of the mean ≈ 0.29/√32000 ≈ 0.0016
        Assert.InRange(variance, 1.0 / 12 - 0.005, 1.0 / 12 + 0.005);
        Assert.True(distinctOffsets > draws * (n - 1) * 0.99, "MDLM draws a separate u_i per sequence");
    }

    [Fact]
    public void Sdtt_draw_is_an_evenly_spaced_grid_with_one_random_offset()
    {
        const int n = 8;
        var sampler = TimeSampler.Sdtt;
        var times = new double[n];
        sampler.Sample(seed: 5, stream: 11, times);
        double[] units = times.Select(t => Unit(sampler, t)).ToArray();
        double offset = units[0];
        for (int i = 0; i < n; i++)
        {
            Assert.InRange(times[i], 1e-5, 1.0);
            Assert.Equal((offset + (double)i / n) % 1, units[i], 12);
        }
        double[] sorted = units.Order().ToArray();
        for (int i = 1; i < n; i++) Assert.Equal(1.0 / n, sorted[i] - sorted[i - 1], 12);
    }

    [Fact]
    public void Same_seed_and_stream_give_the_same_times_and_other_streams_differ()
    {
        var (a, b, c) = (new double[5], new double[5], new double[5]);
        TimeSampler.Mdlm.Sample(1, 42, a);
        TimeSampler.Mdlm.Sample(1, 42, b);
        TimeSampler.Mdlm.Sample(1, 43, c);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }
}
