using Xunit;

namespace IlgpuDiffusion.Tests;

/// <summary>
/// The check that a step allocates nothing on the calling thread once warmed up (training, sampling and decoding steps
/// must not allocate). Under load, or beside other tests, the runtime now and then allocates on this thread outside our
/// code (one-time wait objects when it first blocks on the worker pool, 88 bytes measured; 248 bytes in up to 5 of 8
/// steps in full-suite runs on a loaded machine; 736 to 1,968 bytes in 3 of 8 distillation steps once in 15 runs beside
/// the other allocation tests; 8,112 bytes in 1 of 8 steps of the skinny CPU GEMM once, in a fresh-clone CI run, where
/// the step hands chunks to the worker pool beside the suite's other tests; 248 to 744 bytes in 7 of 8 steps of the CPU
/// op set once, in a fresh-clone CI run; 496 to 1,488 bytes, multiples of 248, in all 8 steps of an MDLM training step once,
/// in a full-suite run at a load average of 57 on 2 cores). Code that allocates does so in every step, the same bytes each
/// time, so at least one measured step must allocate exactly nothing and none more than the runtime's occasional bytes
/// (16 KiB: twice the largest seen). A round of steps none of which came to nothing is measured again, up to
/// <see cref="Rounds"/> rounds in all: code that allocates fails every round.
/// </summary>
internal static class SteadyStateAllocation
{
    /// <summary>Rounds of measured steps a test gets before a round without a step that allocated nothing fails it.</summary>
    public const int Rounds = 3;

    /// <summary>
    /// Runs <paramref name="step"/> twice to warm up, then <paramref name="measured"/> times (at least 2) measured, again
    /// while no measured step came to nothing (<see cref="Rounds"/> rounds at most).
    /// </summary>
    public static void AssertNone(Action step, int measured = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(measured, 2);
        step();
        step();
        var rounds = new List<long[]>();
        do rounds.Add(Measure(step, measured));
        while (!rounds[^1].Contains(0) && rounds.Count < Rounds);
        string perStep = string.Join("; ", rounds.Select(round => string.Join(", ", round)));
        Assert.True(rounds[^1].Contains(0), $"Bytes allocated per step, by round: {perStep}");
        Assert.True(rounds.All(round => round.Max() <= 16 * 1024), $"Bytes allocated per step, by round: {perStep}");
    }

    private static long[] Measure(Action step, int measured)
    {
        var allocated = new long[measured];
        for (int i = 0; i < allocated.Length; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            step();
            allocated[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        return allocated;
    }
}
