using IlgpuDiffusion.Diffusion;
using Xunit;

namespace IlgpuDiffusion.Tests.Diffusion;

public sealed class NoiseScheduleTests
{
    private static readonly double[] Times = [1e-3, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999, 1.0];

    [Fact]
    public void Loss_weight_is_one_over_t_and_equals_the_nelbo_factor()
    {
        var schedule = NoiseSchedule.LogLinear;
        foreach (double t in Times)
        {
            Assert.Equal(1 / t, schedule.LossWeight(t));
            // The NELBO's generic form σ'(t)/(e^σ(t) − 1) (docs/algorithms.md §2.4) must collapse to 1/t.
            double nelboFactor = schedule.NoiseRate(t) / (Math.Exp(schedule.TotalNoise(t)) - 1);
            Assert.True(Math.Abs(nelboFactor * t - 1) < 1e-6, $"t={t}: σ'/(e^σ−1) = {nelboFactor}, 1/t = {1 / t}");
        }
    }

    [Fact]
    public void Keep_probability_and_move_chance_follow_the_log_linear_formulas()
    {
        var schedule = NoiseSchedule.LogLinear;
        Assert.Equal(1.0, schedule.KeepProbability(0));
        Assert.Equal(1e-3, schedule.KeepProbability(1), 15);
        foreach (double t in Times)
        {
            Assert.Equal(1 - 0.999 * t, schedule.KeepProbability(t), 15);
            Assert.Equal(0.999 * t, schedule.MoveChance(t), 15);
            Assert.Equal(Math.Exp(-schedule.TotalNoise(t)), schedule.KeepProbability(t), 12);
            Assert.Equal(-Math.Log(1 - 0.999 * t), schedule.TotalNoise(t), 12);
            // σ' is the derivative of σ.
            double h = 1e-7,
                numeric = (schedule.TotalNoise(Math.Min(t + h, 1)) - schedule.TotalNoise(t - h)) / (Math.Min(t + h, 1) - (t - h));
            Assert.True(Math.Abs(numeric / schedule.NoiseRate(t) - 1) < 1e-4, $"t={t}: dσ/dt {numeric} vs σ' {schedule.NoiseRate(t)}");
        }
    }

    [Fact]
    public void Times_outside_the_unit_interval_have_no_weight()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseSchedule.LogLinear.LossWeight(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseSchedule.LogLinear.LossWeight(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NoiseSchedule(1));
    }
}
