using IlgpuDiffusion.Distillation;
using Xunit;

namespace IlgpuDiffusion.Tests.Distillation;

public sealed class RoundScheduleTests
{
    [Fact]
    public void The_paper_schedule_has_seven_rounds_from_1024_to_8_steps()
    {
        var rounds = DistillationConfig.Sdtt.Rounds;
        Assert.Equal(7, rounds.Count);
        Assert.Equal(70_000, rounds.TotalSteps);
        Assert.Equal([512, 256, 128, 64, 32, 16, 8], Enumerable.Range(0, 7).Select(rounds.StudentSamplingSteps));
        Assert.Equal([1024, 512, 256, 128, 64, 32, 16], Enumerable.Range(0, 7).Select(rounds.TeacherSamplingSteps));
        for (int r = 0; r < 7; r++)
            Assert.Equal((1 - 1e-5) / 1024 * Math.Pow(2, r), rounds.TeacherStepSize(r), 15);
        Assert.Equal(0, rounds.RoundOf(0));
        Assert.Equal(0, rounds.RoundOf(9_999));
        Assert.Equal(1, rounds.RoundOf(10_000));
        Assert.Equal(6, rounds.RoundOf(69_999));
        Assert.Throws<ArgumentOutOfRangeException>(() => rounds.RoundOf(70_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => rounds.StudentSamplingSteps(7));
    }

    [Theory]
    [InlineData(128, 8, 4)]      // 64, 32, 16, 8
    [InlineData(256, 8, 5)]
    [InlineData(256, 10, 4)]     // 128, 64, 32, 16: an 8-step student would fall below 10
    [InlineData(2, 1, 1)]
    public void Rounds_stop_before_a_student_would_sample_in_fewer_than_the_minimum_steps(int initial, int minimum, int expected)
    {
        var rounds = new RoundSchedule(initial, minimum, stepsPerRound: 100);
        Assert.Equal(expected, rounds.Count);
        Assert.True(rounds.StudentSamplingSteps(expected - 1) >= minimum);
        Assert.True(rounds.StudentSamplingSteps(expected - 1) / 2 < minimum);
    }

    [Fact]
    public void Bad_schedules_fail_with_messages_that_say_what_is_wrong()
    {
        Assert.Contains("power of two", Assert.Throws<ArgumentException>(() => new RoundSchedule(1000, 8, 10)).Message);
        Assert.Contains("no student", Assert.Throws<ArgumentException>(() => new RoundSchedule(8, 8, 10)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RoundSchedule(64, 0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RoundSchedule(64, 8, 0));
        Assert.Contains("TeacherSteps",
            Assert.Throws<ArgumentOutOfRangeException>(() => (DistillationConfig.Sdtt with { TeacherSteps = 0 }).Validate()).Message);
    }

    [Fact]
    public void The_paper_grid_steps_back_by_delta_and_clamps_at_epsilon()
    {
        const double delta = 1.0 / 64;
        Assert.Equal(0.5, TeacherTimeGrid.Time(0.5, delta, 0, 2, false));
        Assert.Equal(0.5 - delta, TeacherTimeGrid.Time(0.5, delta, 1, 2, false));
        Assert.Equal(0.5 - 3 * delta, TeacherTimeGrid.Time(0.5, delta, 3, 4, false));
        Assert.Equal(1e-5, TeacherTimeGrid.Time(0.01, delta, 1, 2, false));
        Assert.Equal(1.0 / 3, TeacherTimeGrid.RevealProbability(3 * delta, delta), 15);
        Assert.Equal(1, TeacherTimeGrid.RevealProbability(delta / 2, delta));
    }

    [Fact]
    public void The_released_code_grid_reveals_the_fractions_the_spec_tabulates()
    {
        // docs/algorithms.md §4.3: for K = 2, t_0 = t + (1−t)(t − 2Δ) and t_1 = (1−t)(t − 2Δ); the step-0 reveal fraction relative
        // to the paper's (Δ/t_0 over Δ/t) at Δ = 1/1024 is 0.91, 0.67, 0.53, 0.53, 0.62 at t = 0.9 … 0.005.
        const double delta = 1.0 / 1024;
        double[] times = [0.9, 0.5, 0.1, 0.02, 0.005];
        double[] ratios = [0.91, 0.67, 0.53, 0.53, 0.62];
        for (int i = 0; i < times.Length; i++)
        {
            double t = times[i];
            double t0 = TeacherTimeGrid.Time(t, delta, 0, 2, true);
            Assert.Equal(t + (1 - t) * (t - 2 * delta), t0, 15);
            Assert.Equal((1 - t) * (t - 2 * delta), TeacherTimeGrid.Time(t, delta, 1, 2, true), 15);
            Assert.Equal(ratios[i], TeacherTimeGrid.RevealProbability(t0, delta) / TeacherTimeGrid.RevealProbability(t, delta), 2);
        }
        Assert.Equal(1e-5, TeacherTimeGrid.Time(0.001, delta, 1, 2, true)); // t − 2Δ < 0: clamped
    }
}
