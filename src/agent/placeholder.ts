/**
 * A stand-in for a component that is not built yet. It registers a readiness reporter under the
 * real component's name and says, truthfully, that nothing is there: the agent's readiness then
 * stays false with a reason an operator can read, instead of claiming a readiness it has not
 * earned. When the real component is wired into components.ts its placeholder goes away.
 */
import type { AgentComponent, AgentContext } from './component.js';

export class PlaceholderComponent implements AgentComponent {
  constructor(
    readonly name: string,
    private readonly detail: string,
  ) {}

  async start(ctx: AgentContext): Promise<void> {
    // timeoutMs 0: a constant report never goes stale.
    ctx.health.register({ name: this.name, live: false, ready: true, timeoutMs: 0 }).report({ live: true, ready: false, detail: this.detail });
    ctx.logger.warn({ detail: this.detail }, `${this.name} is not implemented in this build; the agent will not report ready`);
  }

  async stop(): Promise<void> {}
}
