// @vitest-environment jsdom
// The form primitive in a DOM: rules checked on submit only, each error under its field (named
// by aria-describedby, announced as an alert), errors that stay until the next submit unless the
// field clears its own on edit, the server's answer split between a field and the form, focus
// left where it was, and the page called with the schema's output.
import { act, useState } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod/mini";
import { showErrors, useZodForm, type ZodForm } from "../../hooks/useZodForm";
import { Form, FormAlert, FormField, SubmitButton } from "./form";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const schema = z.object({
  name: z.string().check(z.trim(), z.minLength(1, "Enter a name.")),
  code: z.string().check(z.minLength(1, "Enter a code.")),
});
type Out = z.output<typeof schema>;

let got: Out[] = [];
let answer: ((form: ZodForm<z.input<typeof schema>, Out>) => void) | null = null;

function Probe() {
  const form = useZodForm(schema, { name: "", code: "" });
  const [pending, setPending] = useState(false);
  const submit = async (values: Out) => {
    got.push(values);
    setPending(true);
    await Promise.resolve();
    answer?.(form);
    setPending(false);
  };
  return (
    <Form form={form} onValid={submit} className="space-y-4">
      <FormAlert />
      <FormField form={form} name="name" label="Name" hint="Your name." />
      <FormField form={form} name="code" label="Code" clearErrorOnChange />
      <SubmitButton pending={pending}>Send</SubmitButton>
    </Form>
  );
}

let root: Root;
let host: HTMLElement;

beforeEach(() => {
  got = [];
  answer = null;
  host = document.createElement("div");
  document.body.append(host);
  root = createRoot(host);
  act(() => root.render(<Probe />));
});

afterEach(() => {
  act(() => root.unmount());
  host.remove();
});

const input = (label: string) => document.getElementById([...host.querySelectorAll("label")].find((l) => l.textContent === label)?.htmlFor ?? "") as HTMLInputElement;
const alerts = () => [...host.querySelectorAll('[role="alert"]')].map((e) => e.textContent);
const describedBy = (el: HTMLInputElement) => document.getElementById(el.getAttribute("aria-describedby") ?? "")?.textContent;

async function type(el: HTMLInputElement, value: string) {
  // React tracks the value it last saw: set it as the browser would, then fire the input event.
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")?.set;
  await act(async () => {
    setter?.call(el, value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

async function submit() {
  await act(async () => {
    host.querySelector("form")?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
  });
}

describe("the form primitive", () => {
  it("checks the rules on submit only and shows each error under its field", async () => {
    expect(alerts()).toEqual([]);
    await type(input("Name"), " ");
    expect(alerts()).toEqual([]);
    await submit();
    expect(alerts()).toEqual(["Enter a name.", "Enter a code."]);
    expect(input("Name").getAttribute("aria-invalid")).toBe("true");
    expect(describedBy(input("Name"))).toBe("Enter a name.");
    expect(got).toEqual([]);
    expect(document.activeElement).toBe(document.body);
  });

  it("keeps an error until the next submit, unless its field clears it on edit", async () => {
    await submit();
    await type(input("Name"), "Ana");
    await type(input("Code"), "k");
    expect(alerts()).toEqual(["Enter a name."]);
    expect(describedBy(input("Name"))).toBe("Enter a name.");
    expect(input("Code").hasAttribute("aria-invalid")).toBe(false);
    await submit();
    expect(alerts()).toEqual([]);
    expect(describedBy(input("Name"))).toBe("Your name.");
  });

  it("calls the page with the schema's output, and shows the server's answer by field and above the form", async () => {
    answer = (form) => showErrors(form, { fields: { code: "That code is taken." }, form: "Something else went wrong." });
    await type(input("Name"), "  Ana  ");
    await type(input("Code"), "k7");
    await submit();
    expect(got).toEqual([{ name: "Ana", code: "k7" }]);
    expect(alerts()).toEqual(["Something else went wrong.", "That code is taken."]);
    answer = null;
    await submit(); // the form's own error goes with the next submit, as the field's does
    expect(alerts()).toEqual([]);
    expect(got).toHaveLength(2);
  });

  it("disables the submit button, a spinner in place of its icon, while the request is under way", () => {
    act(() => root.render(<SubmitButton pending={false} icon={<i data-icon />}>Send</SubmitButton>));
    const button = host.querySelector("button") as HTMLButtonElement;
    expect([button.type, button.disabled, button.querySelector("[data-icon]") !== null, button.textContent]).toEqual(["submit", false, true, "Send"]);
    act(() => root.render(<SubmitButton pending icon={<i data-icon />}>Send</SubmitButton>));
    expect([button.disabled, button.querySelector("[data-icon]") !== null, button.querySelector("svg.animate-spin") !== null]).toEqual([true, false, true]);
  });
});
