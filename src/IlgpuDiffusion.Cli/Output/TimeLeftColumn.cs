using Spectre.Console;
using Spectre.Console.Rendering;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>
/// The time a task has left as its <see cref="RemainingTime"/> (kept in <see cref="ProgressTask.Tag"/>) estimates it:
/// <c>--:--:--</c> until that has a rate, nothing once the task is finished.
/// </summary>
internal sealed class TimeLeftColumn : ProgressColumn
{
    /// <inheritdoc/>
    protected override bool NoWrap => true;

    /// <summary>What the column shows for <paramref name="task"/>.</summary>
    public static string Text(ProgressTask task) =>
        task.IsFinished ? "" : Left(task) is { } left ? $"{(int)left.TotalHours:00}:{left:mm\\:ss}" : "--:--:--";

    /// <summary>The time <paramref name="task"/> has left, or null while unknown.</summary>
    public static TimeSpan? Left(ProgressTask task) => (task.Tag as RemainingTime)?.Left;

    /// <inheritdoc/>
    public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
        new Text(Text(task), new Style(Color.Blue));
}
