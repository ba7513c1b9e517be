using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>A task's units done out of its total, e.g. <c>120/512</c>.</summary>
internal sealed class CountColumn : ProgressColumn
{
    /// <inheritdoc/>
    protected override bool NoWrap => true;

    /// <inheritdoc/>
    public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
        new Text(string.Create(CultureInfo.InvariantCulture, $"{task.Value:N0}/{task.MaxValue:N0}"));
}
