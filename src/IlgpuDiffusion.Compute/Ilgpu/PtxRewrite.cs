namespace IlgpuDiffusion.Ilgpu;

/// <summary>What is done to the PTX ILGPU writes for a kernel before CUDA loads it (<see cref="PtxKernels"/>).</summary>
internal enum PtxRewrite
{
    /// <summary>Nothing: ILGPU's PTX as it is.</summary>
    None,

    /// <summary>
    /// The inline-PTX operand slots put in registers (<see cref="PtxLocalSlots"/>): kernels with <c>cp.async</c>, in which
    /// ptxas keeps them in local memory.
    /// </summary>
    SlotsInRegisters,

    /// <summary>
    /// The slots in registers and the module retargeted to sm_90a (<see cref="PtxTarget.Hopper"/>): kernels with Hopper's
    /// warpgroup instructions.
    /// </summary>
    Hopper,
}
