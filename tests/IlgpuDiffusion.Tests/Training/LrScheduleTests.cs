using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Training;

public sealed class LrScheduleTests
{
    [Fact]
    public void Warmup_is_linear_from_zero_then_constant()
    {
        var schedule = new LrSchedule(TrainingConfig.Mdlm with { LearningRate = 3e-4, WarmupSteps = 100 });
        Assert.Equal(0, schedule.At(0));
        Assert.Equal(3e-4 * 0.01, schedule.At(1), 15);
        Assert.Equal(3e-4 * 0.5, schedule.At(50), 15);
        Assert.Equal(3e-4 * 0.99, schedule.At(99), 15);
        Assert.Equal(3e-4, schedule.At(100));
        Assert.Equal(3e-4, schedule.At(1_000_000));
        for (int s = 1; s < 100; s++) Assert.True(schedule.At(s) > schedule.At(s - 1));
    }

    [Fact]
    public void Cosine_falls_from_the_peak_to_zero_at_max_steps()
    {
        var schedule = new LrSchedule(
            TrainingConfig.Mdlm with { LearningRate = 1e-3, WarmupSteps = 10, MaxSteps = 110, Decay = LrDecay.Cosine });
        Assert.Equal(5e-4, schedule.At(5), 15);
        Assert.Equal(1e-3, schedule.At(10), 15);
        Assert.Equal(5e-4, schedule.At(60), 12);
        Assert.Equal(1e-3 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), schedule.At(35), 12);
        Assert.Equal(0, schedule.At(110), 15);
        Assert.Equal(0, schedule.At(500), 15);
        for (int s = 11; s <= 110; s++) Assert.True(schedule.At(s) < schedule.At(s - 1));
    }

    [Fact]
    public void No_warmup_starts_at_the_peak()
    {
        var schedule = new LrSchedule(TrainingConfig.Mdlm with { WarmupSteps = 0 });
        Assert.Equal(3e-4, schedule.At(0));
    }
}
