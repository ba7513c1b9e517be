using Xunit;

namespace IlgpuDiffusion.Tests;

/// <summary>
/// The check that a step allocates nothing on the calling thread once warmed up (training, sampling and decoding steps
/// must not allocate). Under load, or beside other tests, the runtime now and then allocates on this thread outside our
/// code (one-time wait objects when it first blocks on the worker pool, 88 bytes measured; 248 bytes in up to 5 of 8
/// steps in full-suite runs on a loaded machine; 736 to 1,968 bytes in 3 of 8 distillation steps once in 15 runs beside
/// the other allocation tests; 8,112 bytes in 1 of 8 steps of the skinny CPU GEMM once, in a fresh-clone CI run, where
/// the step hands chunks to the worker pool beside the suite's other tests; 248 to 744 bytes in 7 of 8 steps of the CPU
/// op set once, in a fresh-clone CI run). Code that allocates does so in every step, the same bytes each time, so at least
/// one measured step must allocate exactly nothing and none more than the runtime's occasional bytes (16 KiB: twice the
/// largest seen).
/// </summary>
internal static class SteadyStateAllocation
{
    /// <summary>Runs <paramref name="step"/> twice to warm up, then <paramref name="measured"/> times (at least 2) measured.</summary>
    public static void AssertNone(Action step, int measured = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(measured, 2);
        step();
        step();
        var allocated = new long[measured];
        for (int i = 0; i < allocated.Length; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            step();
            allocated[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        string perStep = string.Join(", ", allocated);
        Assert.True(allocated.Contains(0), $"Bytes allocated per step: {perStep}");
        Assert.True(allocated.Max() <= 16 * 1024, $"Bytes allocated per step: {perStep}");
    }
}
