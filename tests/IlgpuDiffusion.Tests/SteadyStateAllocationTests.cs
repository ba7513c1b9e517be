using Xunit;
using Xunit.Sdk;

namespace IlgpuDiffusion.Tests;

/// <summary>The allocation check itself: it fails code that allocates in every step and forgives a round of runtime noise.</summary>
public sealed class SteadyStateAllocationTests
{
    private static object? _sink;

    [Fact]
    public void A_step_that_allocates_every_time_fails_every_round()
    {
        var error = Assert.Throws<TrueException>(() => SteadyStateAllocation.AssertNone(() => _sink = new byte[64]));
        Assert.Equal(SteadyStateAllocation.Rounds, error.Message.Split(';').Length);
    }

    [Fact]
    public void A_step_that_allocates_nothing_passes() => SteadyStateAllocation.AssertNone(() => _sink = null);

    [Fact]
    public void A_first_round_whose_every_step_allocated_is_measured_again()
    {
        int calls = 0; // two warm-up steps, then a round of 8 that allocate, as the runtime sometimes does under load
        SteadyStateAllocation.AssertNone(() => _sink = ++calls <= 10 ? new byte[64] : null);
        Assert.Equal(18, calls);
    }
}
