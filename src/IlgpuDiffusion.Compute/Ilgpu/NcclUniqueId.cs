using System.Runtime.CompilerServices;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// NCCL's <c>ncclUniqueId</c>: the 128 opaque bytes (<c>NCCL_UNIQUE_ID_BYTES</c>) rank 0 draws and every rank passes to
/// <c>ncclCommInitRank</c> to meet the others. <c>ncclCommInitRank</c> takes it by value; a C struct of 128 bytes is passed
/// in memory (the System V x86-64 ABI's MEMORY class: a copy on the caller's stack), which a 128-byte value type in a
/// function-pointer call reproduces.
/// </summary>
[InlineArray(Size)]
internal struct NcclUniqueId
{
    /// <summary>The id's length in bytes.</summary>
    public const int Size = 128;

    private byte _first;
}
