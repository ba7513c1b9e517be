using IlgpuDiffusion.Serving;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>The <c>finish_reason</c> of a stream's last chunk, which the engine's updates do not carry.</summary>
internal static class StreamFinish
{
    /// <summary>
    /// <c>"stop"</c> when the run ended before its last step (a GPT drew its end-of-text token), else <c>"length"</c> (a
    /// diffusion model always fills its window).
    /// </summary>
    public static string Reason(TextUpdate final) => final.Step < final.TotalSteps ? "stop" : "length";
}
