"""The one sentence every answer for people carries (API answers, pages, CDS cards, FHIR resources)."""

DISCLAIMER = ("Not medical advice. amlkg restates one patient-education document (American Cancer "
              "Society, revised 2022-12-01) as data; treatment decisions belong to a patient's care team.")
