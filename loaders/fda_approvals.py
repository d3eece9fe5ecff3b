"""The FDA approvals source: one `RegulatoryApproval` per row of the approvals table.

Drugs are matched to the ontology's classes by label; a drug the ontology does not know (approved
after the document was revised) gets a class of its own in this source's graph.
"""
from __future__ import annotations

import csv
from pathlib import Path

import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS, XSD

from kg_service.vocab import AMLKG

from .acs_document import DataError

COLUMNS = ["drug", "brand", "rr_aml_approval_date", "indication_rr", "biomarker",
           "companion_diagnostic", "application", "in_source_document", "sources"]


def _class_name(drug: str) -> str:
    """CamelCase class name for a generic drug name.

    >>> _class_name("gemtuzumab ozogamicin")
    'GemtuzumabOzogamicin'
    """
    return "".join(part[:1].upper() + part[1:] for part in drug.replace("-", " ").split())


def _drug_classes(tbox: rdflib.Graph) -> dict[str, URIRef]:
    """Lower-case label -> class, for the subclasses of amlkg:Treatment."""
    treatments = set(tbox.transitive_subjects(RDFS.subClassOf, AMLKG.Treatment))
    return {str(label).lower(): cls for cls, label in tbox.subject_objects(RDFS.label) if cls in treatments}


def load(files: dict, tbox: rdflib.Graph) -> rdflib.Graph:
    path = Path(files["table"])
    g = rdflib.Graph()
    drugs = _drug_classes(tbox)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if reader.fieldnames != COLUMNS:
            raise DataError("%s: expected columns %s, found %s" % (path, COLUMNS, reader.fieldnames))
        for line, row in enumerate(reader, start=2):
            where = "%s: line %d" % (path, line)
            drug = row["drug"].strip()
            date = row["rr_aml_approval_date"].strip()
            if not drug or len(date) != 10:
                raise DataError("%s: needs a drug and an ISO approval date" % where)
            cls = drugs.get(drug.lower())
            if cls is None:
                cls = AMLKG[_class_name(drug)]
                g.add((cls, RDF.type, OWL.Class))
                g.add((cls, RDFS.subClassOf, AMLKG.TargetedTherapy))
                g.add((cls, RDFS.label, Literal(drug, lang="en")))
                g.add((cls, SKOS.definition, Literal(
                    "A targeted drug known to amlkg only from the FDA approvals source: %s." % row["indication_rr"].strip(),
                    lang="en")))
                if row["brand"].strip():
                    g.add((cls, AMLKG.brandName, Literal(row["brand"].strip())))
                drugs[drug.lower()] = cls
            approval = AMLKG["fda-%s-%s" % (_class_name(drug).lower(), date)]
            g.add((approval, RDF.type, AMLKG.RegulatoryApproval))
            g.add((approval, RDF.type, OWL.NamedIndividual))
            g.add((approval, RDFS.label, Literal("FDA approval of %s, %s" % (drug, date), lang="en")))
            g.add((approval, AMLKG.approvedDrug, cls))
            g.add((approval, AMLKG.approvalDate, Literal(date, datatype=XSD.date)))
            g.add((approval, AMLKG.indicationText, Literal(row["indication_rr"].strip())))
            for column, prop in (("biomarker", AMLKG.biomarker), ("companion_diagnostic", AMLKG.companionDiagnostic),
                                 ("application", AMLKG.applicationNumber), ("sources", AMLKG.approvalSource)):
                if row[column].strip():
                    g.add((approval, prop, Literal(row[column].strip())))
            in_doc = row["in_source_document"].strip().lower()
            if not in_doc.startswith(("yes", "no")):
                raise DataError("%s: in_source_document must start with yes or no" % where)
            g.add((approval, AMLKG.afterSourceRevision, Literal(in_doc.startswith("no"))))
    return g
