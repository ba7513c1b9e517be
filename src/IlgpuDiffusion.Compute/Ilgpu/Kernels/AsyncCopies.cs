using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// <c>cp.async</c> (PTX ISA, "Data movement and conversion instructions: cp.async"; sm_80+): copies of 16 bytes from global
/// to shared memory that skip the registers and complete in the background, in groups that a thread commits and waits
/// for. A kernel with them keeps its inline-PTX operand slots in local memory unless its PTX is rewritten
/// (<see cref="PtxLocalSlots"/>, <see cref="PtxKernels"/>). Every operand goes by value, so none takes a slot itself.
/// <see cref="Copy16"/> is CUDA only (a caller without it copies at once); commits and waits do nothing off CUDA, where
/// nothing is in flight.
/// </summary>
internal static class AsyncCopies
{
    /// <summary>
    /// Queues the copy of the 16 bytes at <paramref name="source"/> (a global address) to <paramref name="destination"/> (a
    /// 32-bit shared-window address, 16-byte aligned), or of 16 zero bytes, reading nothing, where <paramref name="inside"/>
    /// is false (cp.async's source size 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy16(uint destination, long source, bool inside) =>
        CudaAsm.Emit("cp.async.cg.shared.global [%0], [%1], 16, %2;", destination, source, inside ? 16u : 0u);

    /// <summary>
    /// <see cref="Copy16"/> for the 4 bytes at <paramref name="source"/> (4-byte aligned; cp.async.ca, through L1, the one
    /// form that copies fewer than 16 bytes), or 4 zero bytes where <paramref name="inside"/> is false.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy4(uint destination, long source, bool inside) =>
        CudaAsm.Emit("cp.async.ca.shared.global [%0], [%1], 4, %2;", destination, source, inside ? 4u : 0u);

    /// <summary>
    /// <see cref="Copy16"/> from <paramref name="address"/> to <paramref name="at"/> (a shared-window address); off CUDA, where
    /// there is no cp.async, the copy at once, with <paramref name="address"/> a byte offset into <paramref name="x"/> and
    /// <paramref name="at"/> one into <paramref name="shared"/> (the kernels' addresses are offsets where the launch's base
    /// addresses are 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Queue16(ArrayView<float> shared, ArrayView<float> x, uint at, long address, bool inside)
    {
        if (CudaAsm.IsSupported)
        {
            Copy16(at, address, inside);
            return;
        }
        shared.SubView(at >> 2, 4).Cast<Quad>().AsAligned(16)[0] =
            inside ? x.SubView(address >> 2, 4).Cast<Quad>().AsAligned(16)[0] : default;
    }

    /// <summary><see cref="Queue16"/> for 4 bytes (<see cref="Copy4"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Queue4(ArrayView<float> shared, ArrayView<float> x, uint at, long address, bool inside)
    {
        if (CudaAsm.IsSupported)
        {
            Copy4(at, address, inside);
            return;
        }
        shared[(int)(at >> 2)] = inside ? x[(int)(address >> 2)] : 0f;
    }

    /// <summary>Closes the group of this thread's copies queued since the last commit (an empty group where none were).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Commit()
    {
        if (CudaAsm.IsSupported) CudaAsm.Emit("cp.async.commit_group;");
    }

    /// <summary>
    /// Waits until at most <paramref name="newest"/> of this thread's committed groups, the newest, are still in flight (a
    /// constant of 0–3; any other waits for all). The copies become visible to the other threads after a barrier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WaitForAllBut(int newest)
    {
        if (!CudaAsm.IsSupported) return;
        if (newest == 3) CudaAsm.Emit("cp.async.wait_group 3;");
        else if (newest == 2) CudaAsm.Emit("cp.async.wait_group 2;");
        else if (newest == 1) CudaAsm.Emit("cp.async.wait_group 1;");
        else CudaAsm.Emit("cp.async.wait_group 0;");
    }
}
